-- CreateTable
CREATE TABLE "InferenceJobLease" (
    "groupId" TEXT NOT NULL PRIMARY KEY,
    "runId" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "expiresAt" DATETIME NOT NULL
);
