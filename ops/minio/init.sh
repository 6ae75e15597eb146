#!/bin/sh
# One-shot MinIO set-up for compose (run by the `minio-init` service in the minio/mc image):
# the lake and MLflow buckets, and an application user limited to those two buckets, so that no
# service but this one ever holds the MinIO root credentials. Safe to re-run.
set -eu

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${S3_ACCESS_KEY:?}" "${S3_SECRET_KEY:?}"
: "${LAKE_BUCKET:?}" "${MLFLOW_BUCKET:?}"

mc alias set lake "${MINIO_URL:-http://minio:9000}" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "lake/$LAKE_BUCKET"
mc mb --ignore-existing "lake/$MLFLOW_BUCKET"

policy=/tmp/lakehouse-rw.json
cat > "$policy" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
     "Resource": ["arn:aws:s3:::$LAKE_BUCKET", "arn:aws:s3:::$MLFLOW_BUCKET"]},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                                   "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
     "Resource": ["arn:aws:s3:::$LAKE_BUCKET/*", "arn:aws:s3:::$MLFLOW_BUCKET/*"]}
  ]
}
JSON
mc admin policy create lake lakehouse-rw "$policy"
mc admin user add lake "$S3_ACCESS_KEY" "$S3_SECRET_KEY"
# Attaching a policy that is already attached is an error in mc; on a re-run that is success.
if ! mc admin policy attach lake lakehouse-rw --user "$S3_ACCESS_KEY" 2>/tmp/attach.err; then
  mc admin user info lake "$S3_ACCESS_KEY" | grep -q lakehouse-rw || { cat /tmp/attach.err >&2; exit 1; }
fi
echo "minio: buckets $LAKE_BUCKET, $MLFLOW_BUCKET and user $S3_ACCESS_KEY ready"
