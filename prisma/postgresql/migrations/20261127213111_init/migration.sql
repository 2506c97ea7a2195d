-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "Role" AS ENUM ('ADMIN', 'DEVELOPER', 'VIEWER');

-- CreateEnum
CREATE TYPE "ServiceType" AS ENUM ('MODEL_SERVICE', 'ML_SERVICE');

-- CreateEnum
CREATE TYPE "ServiceStatus" AS ENUM ('DRAFT', 'STARTING', 'RUNNING', 'STOPPING', 'STOPPED', 'FAILED');

-- CreateEnum
CREATE TYPE "ModelSourceKind" AS ENUM ('REGISTRY', 'MLFLOW', 'IMAGE');

-- CreateEnum
CREATE TYPE "ResourceSourceKind" AS ENUM ('SHARED_POOL', 'DEDICATED');

-- CreateEnum
CREATE TYPE "InstanceState" AS ENUM ('WAITING', 'RUNNING', 'TERMINATING', 'FAILED');

-- CreateEnum
CREATE TYPE "EventLevel" AS ENUM ('NORMAL', 'WARNING');

-- CreateEnum
CREATE TYPE "NodeState" AS ENUM ('READY', 'NOT_READY', 'CORDONED');

-- CreateTable
CREATE TABLE "User" (
    "id" TEXT NOT NULL,
    "username" TEXT NOT NULL,
    "displayName" TEXT,
    "passwordHash" TEXT,
    "role" "Role" NOT NULL DEFAULT 'VIEWER',
    "externalSubject" TEXT,
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Project" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "createdById" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Project_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ProjectMember" (
    "projectId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "role" "Role" NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ProjectMember_pkey" PRIMARY KEY ("projectId","userId")
);

-- CreateTable
CREATE TABLE "ServiceGroup" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "type" "ServiceType" NOT NULL DEFAULT 'MODEL_SERVICE',
    "description" TEXT NOT NULL DEFAULT '',
    "status" "ServiceStatus" NOT NULL DEFAULT 'DRAFT',
    "projectId" TEXT NOT NULL,
    "createdById" TEXT,
    "createdByName" TEXT NOT NULL DEFAULT '',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ServiceGroup_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ServiceVersion" (
    "id" TEXT NOT NULL,
    "groupId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "status" "ServiceStatus" NOT NULL DEFAULT 'DRAFT',
    "statusReason" TEXT,
    "modelSource" "ModelSourceKind" NOT NULL,
    "modelName" TEXT,
    "modelVersion" TEXT,
    "mlflowTrackingUri" TEXT,
    "image" TEXT,
    "command" JSONB,
    "env" JSONB,
    "port" INTEGER,
    "registryUsername" TEXT,
    "registryPasswordEnc" TEXT,
    "resourceSource" "ResourceSourceKind" NOT NULL DEFAULT 'SHARED_POOL',
    "cpu" DOUBLE PRECISION NOT NULL DEFAULT 1,
    "memoryGiB" DOUBLE PRECISION NOT NULL DEFAULT 2,
    "gpuType" TEXT,
    "gpuCount" INTEGER NOT NULL DEFAULT 0,
    "resourceGroupId" TEXT,
    "replicas" INTEGER NOT NULL DEFAULT 1,
    "qpsLimit" INTEGER,
    "authEnabled" BOOLEAN NOT NULL DEFAULT false,
    "trafficPercent" INTEGER NOT NULL DEFAULT 0,
    "logDeliveryEnabled" BOOLEAN NOT NULL DEFAULT true,
    "logRetentionDays" INTEGER NOT NULL DEFAULT 7,
    "inferenceTableEnabled" BOOLEAN NOT NULL DEFAULT false,
    "inferenceSampleRate" DOUBLE PRECISION NOT NULL DEFAULT 1,
    "inferenceMaxBodyBytes" INTEGER NOT NULL DEFAULT 65536,
    "createdById" TEXT,
    "createdByName" TEXT NOT NULL DEFAULT '',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ServiceVersion_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Instance" (
    "id" TEXT NOT NULL,
    "versionId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "state" "InstanceState" NOT NULL DEFAULT 'WAITING',
    "stateReason" TEXT,
    "restartCount" INTEGER NOT NULL DEFAULT 0,
    "host" TEXT,
    "port" INTEGER,
    "pid" INTEGER,
    "node" TEXT,
    "cpuMillicores" DOUBLE PRECISION,
    "memoryBytes" BIGINT,
    "startedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Instance_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Event" (
    "id" TEXT NOT NULL,
    "level" "EventLevel" NOT NULL DEFAULT 'NORMAL',
    "resourceKind" TEXT NOT NULL,
    "resourceName" TEXT NOT NULL,
    "groupId" TEXT,
    "versionId" TEXT,
    "reason" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 1,
    "firstSeen" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeen" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Event_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ResourceGroup" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "tags" JSONB NOT NULL,
    "boundGroupId" TEXT,
    "createdById" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ResourceGroup_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ResourceNode" (
    "id" TEXT NOT NULL,
    "resourceGroupId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "cpu" DOUBLE PRECISION NOT NULL,
    "memoryGiB" DOUBLE PRECISION NOT NULL,
    "gpuType" TEXT,
    "gpuCount" INTEGER NOT NULL DEFAULT 0,
    "state" "NodeState" NOT NULL DEFAULT 'READY',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ResourceNode_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ResourceGroupProject" (
    "resourceGroupId" TEXT NOT NULL,
    "projectId" TEXT NOT NULL,

    CONSTRAINT "ResourceGroupProject_pkey" PRIMARY KEY ("resourceGroupId","projectId")
);

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" TEXT NOT NULL,
    "groupId" TEXT NOT NULL,
    "versionId" TEXT,
    "name" TEXT NOT NULL DEFAULT '',
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "createdById" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),

    CONSTRAINT "ApiKey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AuditLog" (
    "id" TEXT NOT NULL,
    "actorId" TEXT,
    "actorName" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "resourceKind" TEXT NOT NULL,
    "resourceId" TEXT,
    "before" JSONB,
    "after" JSONB,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AuditLog_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RegisteredModel" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "createdById" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "RegisteredModel_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ModelVersion" (
    "id" TEXT NOT NULL,
    "modelId" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "artifactUri" TEXT NOT NULL,
    "format" TEXT NOT NULL DEFAULT 'onnx',
    "signature" JSONB NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "createdById" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ModelVersion_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "User_username_key" ON "User"("username");

-- CreateIndex
CREATE UNIQUE INDEX "User_externalSubject_key" ON "User"("externalSubject");

-- CreateIndex
CREATE UNIQUE INDEX "Project_name_key" ON "Project"("name");

-- CreateIndex
CREATE INDEX "ProjectMember_userId_idx" ON "ProjectMember"("userId");

-- CreateIndex
CREATE UNIQUE INDEX "ServiceGroup_name_key" ON "ServiceGroup"("name");

-- CreateIndex
CREATE INDEX "ServiceGroup_projectId_idx" ON "ServiceGroup"("projectId");

-- CreateIndex
CREATE INDEX "ServiceGroup_status_idx" ON "ServiceGroup"("status");

-- CreateIndex
CREATE INDEX "ServiceVersion_resourceGroupId_idx" ON "ServiceVersion"("resourceGroupId");

-- CreateIndex
CREATE UNIQUE INDEX "ServiceVersion_groupId_name_key" ON "ServiceVersion"("groupId", "name");

-- CreateIndex
CREATE UNIQUE INDEX "Instance_name_key" ON "Instance"("name");

-- CreateIndex
CREATE INDEX "Instance_versionId_idx" ON "Instance"("versionId");

-- CreateIndex
CREATE INDEX "Event_groupId_lastSeen_idx" ON "Event"("groupId", "lastSeen");

-- CreateIndex
CREATE INDEX "Event_versionId_lastSeen_idx" ON "Event"("versionId", "lastSeen");

-- CreateIndex
CREATE UNIQUE INDEX "Event_resourceKind_resourceName_reason_message_key" ON "Event"("resourceKind", "resourceName", "reason", "message");

-- CreateIndex
CREATE UNIQUE INDEX "ResourceGroup_name_key" ON "ResourceGroup"("name");

-- CreateIndex
CREATE UNIQUE INDEX "ResourceGroup_boundGroupId_key" ON "ResourceGroup"("boundGroupId");

-- CreateIndex
CREATE UNIQUE INDEX "ResourceNode_resourceGroupId_name_key" ON "ResourceNode"("resourceGroupId", "name");

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_hash_key" ON "ApiKey"("hash");

-- CreateIndex
CREATE INDEX "ApiKey_groupId_idx" ON "ApiKey"("groupId");

-- CreateIndex
CREATE INDEX "AuditLog_resourceKind_resourceId_idx" ON "AuditLog"("resourceKind", "resourceId");

-- CreateIndex
CREATE INDEX "AuditLog_at_idx" ON "AuditLog"("at");

-- CreateIndex
CREATE UNIQUE INDEX "RegisteredModel_name_key" ON "RegisteredModel"("name");

-- CreateIndex
CREATE UNIQUE INDEX "ModelVersion_modelId_version_key" ON "ModelVersion"("modelId", "version");

-- AddForeignKey
ALTER TABLE "ProjectMember" ADD CONSTRAINT "ProjectMember_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ProjectMember" ADD CONSTRAINT "ProjectMember_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ServiceGroup" ADD CONSTRAINT "ServiceGroup_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ServiceVersion" ADD CONSTRAINT "ServiceVersion_groupId_fkey" FOREIGN KEY ("groupId") REFERENCES "ServiceGroup"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ServiceVersion" ADD CONSTRAINT "ServiceVersion_resourceGroupId_fkey" FOREIGN KEY ("resourceGroupId") REFERENCES "ResourceGroup"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Instance" ADD CONSTRAINT "Instance_versionId_fkey" FOREIGN KEY ("versionId") REFERENCES "ServiceVersion"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ResourceGroup" ADD CONSTRAINT "ResourceGroup_boundGroupId_fkey" FOREIGN KEY ("boundGroupId") REFERENCES "ServiceGroup"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ResourceNode" ADD CONSTRAINT "ResourceNode_resourceGroupId_fkey" FOREIGN KEY ("resourceGroupId") REFERENCES "ResourceGroup"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ResourceGroupProject" ADD CONSTRAINT "ResourceGroupProject_resourceGroupId_fkey" FOREIGN KEY ("resourceGroupId") REFERENCES "ResourceGroup"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ResourceGroupProject" ADD CONSTRAINT "ResourceGroupProject_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ApiKey" ADD CONSTRAINT "ApiKey_groupId_fkey" FOREIGN KEY ("groupId") REFERENCES "ServiceGroup"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ApiKey" ADD CONSTRAINT "ApiKey_versionId_fkey" FOREIGN KEY ("versionId") REFERENCES "ServiceVersion"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModelVersion" ADD CONSTRAINT "ModelVersion_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "RegisteredModel"("id") ON DELETE CASCADE ON UPDATE CASCADE;
