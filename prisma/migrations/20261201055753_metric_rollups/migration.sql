-- CreateTable
CREATE TABLE "MetricRollup" (
    "step" INTEGER NOT NULL,
    "t" DATETIME NOT NULL,
    "groupId" TEXT NOT NULL,
    "versionId" TEXT NOT NULL,
    "instance" TEXT NOT NULL DEFAULT '',
    "requests" REAL NOT NULL DEFAULT 0,
    "throttled" REAL NOT NULL DEFAULT 0,
    "errors" REAL NOT NULL DEFAULT 0,
    "bytesIn" REAL NOT NULL DEFAULT 0,
    "bytesOut" REAL NOT NULL DEFAULT 0,
    "latencyBuckets" TEXT,
    "concurrencySum" REAL NOT NULL DEFAULT 0,
    "cpuSum" REAL NOT NULL DEFAULT 0,
    "memorySum" REAL NOT NULL DEFAULT 0,
    "gpuUtilSum" REAL NOT NULL DEFAULT 0,
    "gpuMemorySum" REAL NOT NULL DEFAULT 0,
    "gpuSamples" INTEGER NOT NULL DEFAULT 0,
    "runningSum" REAL NOT NULL DEFAULT 0,
    "expectedSum" REAL NOT NULL DEFAULT 0,
    "samples" INTEGER NOT NULL DEFAULT 0,
    "updatedAt" DATETIME NOT NULL,

    PRIMARY KEY ("step", "versionId", "instance", "t")
);

-- CreateIndex
CREATE INDEX "MetricRollup_groupId_step_t_idx" ON "MetricRollup"("groupId", "step", "t");

-- CreateIndex
CREATE INDEX "MetricRollup_step_t_idx" ON "MetricRollup"("step", "t");
