-- CreateEnum
CREATE TYPE "ThrottleMode" AS ENUM ('REJECT', 'QUEUE');

-- AlterTable
ALTER TABLE "ServiceGroup" ADD COLUMN     "canaryGuardEnabled" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "canaryMaxErrorRateDelta" DOUBLE PRECISION NOT NULL DEFAULT 0.1,
ADD COLUMN     "canaryMaxLatencyP99Ratio" DOUBLE PRECISION NOT NULL DEFAULT 2,
ADD COLUMN     "canaryMinRequests" INTEGER NOT NULL DEFAULT 50,
ADD COLUMN     "canaryWindowSeconds" INTEGER NOT NULL DEFAULT 60,
ADD COLUMN     "mirrorPercent" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "mirrorVersionId" TEXT;

-- AlterTable
ALTER TABLE "ServiceVersion" ADD COLUMN     "autoscaleCooldownSeconds" INTEGER NOT NULL DEFAULT 60,
ADD COLUMN     "autoscaleMaxReplicas" INTEGER,
ADD COLUMN     "autoscaleMinReplicas" INTEGER,
ADD COLUMN     "autoscaleTargetConcurrency" DOUBLE PRECISION,
ADD COLUMN     "autoscaleTargetQps" DOUBLE PRECISION,
ADD COLUMN     "maxConcurrency" INTEGER,
ADD COLUMN     "queueDepth" INTEGER,
ADD COLUMN     "queueMaxWaitMs" INTEGER,
ADD COLUMN     "throttleMode" "ThrottleMode" NOT NULL DEFAULT 'REJECT';
