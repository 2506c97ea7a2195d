-- AlterTable
ALTER TABLE "ServiceVersion" ADD COLUMN     "authJwtOnly" BOOLEAN NOT NULL DEFAULT false;
