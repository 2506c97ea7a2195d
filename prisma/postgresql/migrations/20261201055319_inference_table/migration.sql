-- CreateEnum
CREATE TYPE "InferenceRunState" AS ENUM ('RUNNING', 'SUCCEEDED', 'FAILED');

-- CreateEnum
CREATE TYPE "QualityMetric" AS ENUM ('ACCURACY', 'PSI', 'KS_P_VALUE', 'JS_DISTANCE', 'ERROR_RATE', 'LATENCY_P99');

-- CreateEnum
CREATE TYPE "AlertState" AS ENUM ('OPEN', 'RESOLVED');

-- AlterTable
ALTER TABLE "ModelVersion" ADD COLUMN     "baseline" JSONB;

-- CreateTable
CREATE TABLE "InferenceJobRun" (
    "id" TEXT NOT NULL,
    "groupId" TEXT NOT NULL,
    "state" "InferenceRunState" NOT NULL DEFAULT 'RUNNING',
    "trigger" TEXT NOT NULL DEFAULT 'MANUAL',
    "holder" TEXT NOT NULL,
    "heartbeatAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "objectsTotal" INTEGER NOT NULL DEFAULT 0,
    "objectsProcessed" INTEGER NOT NULL DEFAULT 0,
    "objectsQuarantined" INTEGER NOT NULL DEFAULT 0,
    "recordsQuarantined" INTEGER NOT NULL DEFAULT 0,
    "rowsWritten" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "InferenceJobRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InferenceTableBatch" (
    "id" TEXT NOT NULL,
    "groupId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'PENDING',
    "files" JSONB,
    "rows" INTEGER NOT NULL DEFAULT 0,
    "runId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "committedAt" TIMESTAMP(3),

    CONSTRAINT "InferenceTableBatch_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InferenceTableObject" (
    "groupId" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "batchId" TEXT NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'PENDING',
    "size" INTEGER NOT NULL DEFAULT 0,
    "records" INTEGER NOT NULL DEFAULT 0,
    "rows" INTEGER NOT NULL DEFAULT 0,
    "reason" TEXT,

    CONSTRAINT "InferenceTableObject_pkey" PRIMARY KEY ("groupId","key")
);

-- CreateTable
CREATE TABLE "InferenceSchedule" (
    "groupId" TEXT NOT NULL,
    "intervalSeconds" INTEGER NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "lastRunAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "InferenceSchedule_pkey" PRIMARY KEY ("groupId")
);

-- CreateTable
CREATE TABLE "QualityRule" (
    "id" TEXT NOT NULL,
    "groupId" TEXT NOT NULL,
    "versionId" TEXT,
    "name" TEXT NOT NULL,
    "metric" "QualityMetric" NOT NULL,
    "feature" TEXT,
    "threshold" DOUBLE PRECISION NOT NULL,
    "windowSeconds" INTEGER NOT NULL DEFAULT 3600,
    "minRows" INTEGER NOT NULL DEFAULT 1,
    "webhookUrl" TEXT,
    "webhookSecretEnc" TEXT,
    "createdById" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "QualityRule_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "QualityAlert" (
    "id" TEXT NOT NULL,
    "ruleId" TEXT NOT NULL,
    "groupId" TEXT NOT NULL,
    "version" TEXT,
    "state" "AlertState" NOT NULL DEFAULT 'OPEN',
    "value" DOUBLE PRECISION NOT NULL,
    "openKey" TEXT,
    "openedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolvedAt" TIMESTAMP(3),

    CONSTRAINT "QualityAlert_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WebhookDelivery" (
    "id" TEXT NOT NULL,
    "alertId" TEXT NOT NULL,
    "event" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "responseStatus" INTEGER,
    "lastError" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deliveredAt" TIMESTAMP(3),

    CONSTRAINT "WebhookDelivery_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "QualitySnapshot" (
    "id" TEXT NOT NULL,
    "groupId" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "windowFrom" TIMESTAMP(3) NOT NULL,
    "windowTo" TIMESTAMP(3) NOT NULL,
    "rows" INTEGER NOT NULL,
    "labelledRows" INTEGER NOT NULL,
    "metrics" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "QualitySnapshot_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "InferenceJobRun_groupId_startedAt_idx" ON "InferenceJobRun"("groupId", "startedAt");

-- CreateIndex
CREATE UNIQUE INDEX "InferenceTableBatch_groupId_seq_key" ON "InferenceTableBatch"("groupId", "seq");

-- CreateIndex
CREATE INDEX "InferenceTableObject_batchId_idx" ON "InferenceTableObject"("batchId");

-- CreateIndex
CREATE UNIQUE INDEX "QualityRule_groupId_name_key" ON "QualityRule"("groupId", "name");

-- CreateIndex
CREATE UNIQUE INDEX "QualityAlert_openKey_key" ON "QualityAlert"("openKey");

-- CreateIndex
CREATE INDEX "QualityAlert_groupId_openedAt_idx" ON "QualityAlert"("groupId", "openedAt");

-- CreateIndex
CREATE INDEX "WebhookDelivery_alertId_idx" ON "WebhookDelivery"("alertId");

-- CreateIndex
CREATE INDEX "WebhookDelivery_state_idx" ON "WebhookDelivery"("state");

-- CreateIndex
CREATE INDEX "QualitySnapshot_groupId_windowTo_idx" ON "QualitySnapshot"("groupId", "windowTo");

-- AddForeignKey
ALTER TABLE "InferenceTableObject" ADD CONSTRAINT "InferenceTableObject_batchId_fkey" FOREIGN KEY ("batchId") REFERENCES "InferenceTableBatch"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "QualityAlert" ADD CONSTRAINT "QualityAlert_ruleId_fkey" FOREIGN KEY ("ruleId") REFERENCES "QualityRule"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WebhookDelivery" ADD CONSTRAINT "WebhookDelivery_alertId_fkey" FOREIGN KEY ("alertId") REFERENCES "QualityAlert"("id") ON DELETE CASCADE ON UPDATE CASCADE;
