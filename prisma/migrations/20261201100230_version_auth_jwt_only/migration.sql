-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_ServiceVersion" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "groupId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "status" TEXT NOT NULL DEFAULT 'DRAFT',
    "statusReason" TEXT,
    "modelSource" TEXT NOT NULL,
    "modelName" TEXT,
    "modelVersion" TEXT,
    "mlflowTrackingUri" TEXT,
    "image" TEXT,
    "command" JSONB,
    "env" JSONB,
    "port" INTEGER,
    "registryUsername" TEXT,
    "registryPasswordEnc" TEXT,
    "resourceSource" TEXT NOT NULL DEFAULT 'SHARED_POOL',
    "cpu" REAL NOT NULL DEFAULT 1,
    "memoryGiB" REAL NOT NULL DEFAULT 2,
    "gpuType" TEXT,
    "gpuCount" INTEGER NOT NULL DEFAULT 0,
    "resourceGroupId" TEXT,
    "replicas" INTEGER NOT NULL DEFAULT 1,
    "qpsLimit" INTEGER,
    "throttleMode" TEXT NOT NULL DEFAULT 'REJECT',
    "queueDepth" INTEGER,
    "queueMaxWaitMs" INTEGER,
    "maxConcurrency" INTEGER,
    "autoscaleMinReplicas" INTEGER,
    "autoscaleMaxReplicas" INTEGER,
    "autoscaleTargetConcurrency" REAL,
    "autoscaleTargetQps" REAL,
    "autoscaleCooldownSeconds" INTEGER NOT NULL DEFAULT 60,
    "authEnabled" BOOLEAN NOT NULL DEFAULT false,
    "authJwtOnly" BOOLEAN NOT NULL DEFAULT false,
    "trafficPercent" INTEGER NOT NULL DEFAULT 0,
    "logDeliveryEnabled" BOOLEAN NOT NULL DEFAULT true,
    "logRetentionDays" INTEGER NOT NULL DEFAULT 7,
    "inferenceTableEnabled" BOOLEAN NOT NULL DEFAULT false,
    "inferenceSampleRate" REAL NOT NULL DEFAULT 1,
    "inferenceMaxBodyBytes" INTEGER NOT NULL DEFAULT 65536,
    "createdById" TEXT,
    "createdByName" TEXT NOT NULL DEFAULT '',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "ServiceVersion_groupId_fkey" FOREIGN KEY ("groupId") REFERENCES "ServiceGroup" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "ServiceVersion_resourceGroupId_fkey" FOREIGN KEY ("resourceGroupId") REFERENCES "ResourceGroup" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_ServiceVersion" ("authEnabled", "autoscaleCooldownSeconds", "autoscaleMaxReplicas", "autoscaleMinReplicas", "autoscaleTargetConcurrency", "autoscaleTargetQps", "command", "cpu", "createdAt", "createdById", "createdByName", "description", "env", "gpuCount", "gpuType", "groupId", "id", "image", "inferenceMaxBodyBytes", "inferenceSampleRate", "inferenceTableEnabled", "logDeliveryEnabled", "logRetentionDays", "maxConcurrency", "memoryGiB", "mlflowTrackingUri", "modelName", "modelSource", "modelVersion", "name", "port", "qpsLimit", "queueDepth", "queueMaxWaitMs", "registryPasswordEnc", "registryUsername", "replicas", "resourceGroupId", "resourceSource", "status", "statusReason", "throttleMode", "trafficPercent", "updatedAt") SELECT "authEnabled", "autoscaleCooldownSeconds", "autoscaleMaxReplicas", "autoscaleMinReplicas", "autoscaleTargetConcurrency", "autoscaleTargetQps", "command", "cpu", "createdAt", "createdById", "createdByName", "description", "env", "gpuCount", "gpuType", "groupId", "id", "image", "inferenceMaxBodyBytes", "inferenceSampleRate", "inferenceTableEnabled", "logDeliveryEnabled", "logRetentionDays", "maxConcurrency", "memoryGiB", "mlflowTrackingUri", "modelName", "modelSource", "modelVersion", "name", "port", "qpsLimit", "queueDepth", "queueMaxWaitMs", "registryPasswordEnc", "registryUsername", "replicas", "resourceGroupId", "resourceSource", "status", "statusReason", "throttleMode", "trafficPercent", "updatedAt" FROM "ServiceVersion";
DROP TABLE "ServiceVersion";
ALTER TABLE "new_ServiceVersion" RENAME TO "ServiceVersion";
CREATE INDEX "ServiceVersion_resourceGroupId_idx" ON "ServiceVersion"("resourceGroupId");
CREATE UNIQUE INDEX "ServiceVersion_groupId_name_key" ON "ServiceVersion"("groupId", "name");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
