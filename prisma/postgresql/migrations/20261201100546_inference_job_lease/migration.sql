-- CreateTable
CREATE TABLE "InferenceJobLease" (
    "groupId" TEXT NOT NULL,
    "runId" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "InferenceJobLease_pkey" PRIMARY KEY ("groupId")
);
