-- CreateTable
CREATE TABLE "MetricRollup" (
    "step" INTEGER NOT NULL,
    "t" TIMESTAMP(3) NOT NULL,
    "groupId" TEXT NOT NULL,
    "versionId" TEXT NOT NULL,
    "instance" TEXT NOT NULL DEFAULT '',
    "requests" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "throttled" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "errors" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "bytesIn" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "bytesOut" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "latencyBuckets" TEXT,
    "concurrencySum" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "cpuSum" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "memorySum" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "gpuUtilSum" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "gpuMemorySum" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "gpuSamples" INTEGER NOT NULL DEFAULT 0,
    "runningSum" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "expectedSum" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "samples" INTEGER NOT NULL DEFAULT 0,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "MetricRollup_pkey" PRIMARY KEY ("step","versionId","instance","t")
);

-- CreateIndex
CREATE INDEX "MetricRollup_groupId_step_t_idx" ON "MetricRollup"("groupId", "step", "t");

-- CreateIndex
CREATE INDEX "MetricRollup_step_t_idx" ON "MetricRollup"("step", "t");
