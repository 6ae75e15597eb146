#!/bin/sh
# One-shot MinIO set-up for compose (run by the `minio-init` service in the minio/mc image): the lake
# and MLflow buckets, and one user per kind of access, so that no service but this one ever holds the
# MinIO root credentials and none holds more than it needs (docker-compose.yaml, x-lake-*-env):
#   S3_WRITER_ACCESS_KEY  lake-write        the lake bucket: read, write, delete (Spark jobs, Airflow tasks)
#   S3_READER_ACCESS_KEY  lake-read         the lake bucket: list and read (the dashboard)
#   S3_MLFLOW_ACCESS_KEY  mlflow-artifacts  the MLflow bucket: read, write, delete (the MLflow server)
# Safe to re-run: policies are rewritten and passwords reset from .env.
set -eu

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${LAKE_BUCKET:?}" "${MLFLOW_BUCKET:?}"
: "${S3_WRITER_ACCESS_KEY:?}" "${S3_WRITER_SECRET_KEY:?}" "${S3_READER_ACCESS_KEY:?}" "${S3_READER_SECRET_KEY:?}"
: "${S3_MLFLOW_ACCESS_KEY:?}" "${S3_MLFLOW_SECRET_KEY:?}"

mc alias set lake "${MINIO_URL:-http://minio:9000}" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "lake/$LAKE_BUCKET"
mc mb --ignore-existing "lake/$MLFLOW_BUCKET"

# policy NAME BUCKET OBJECT-ACTIONS: listing the bucket, and the given actions on its objects.
policy() {
  file="/tmp/$1.json"
  cat > "$file" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
     "Resource": ["arn:aws:s3:::$2"]},
    {"Effect": "Allow", "Action": [$3], "Resource": ["arn:aws:s3:::$2/*"]}
  ]
}
JSON
  mc admin policy create lake "$1" "$file"
}

# user ACCESS-KEY SECRET-KEY POLICY: creates the user or resets its secret, then attaches the policy.
user() {
  mc admin user add lake "$1" "$2"
  # Attaching a policy that is already attached is an error in mc; on a re-run that is success.
  if ! mc admin policy attach lake "$3" --user "$1" 2>/tmp/attach.err; then
    mc admin user info lake "$1" | grep -q "$3" || { cat /tmp/attach.err >&2; exit 1; }
  fi
}

READ='"s3:GetObject"'
WRITE='"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"'
policy lake-write "$LAKE_BUCKET" "$WRITE"
policy lake-read "$LAKE_BUCKET" "$READ"
policy mlflow-artifacts "$MLFLOW_BUCKET" "$WRITE"
user "$S3_WRITER_ACCESS_KEY" "$S3_WRITER_SECRET_KEY" lake-write
user "$S3_READER_ACCESS_KEY" "$S3_READER_SECRET_KEY" lake-read
user "$S3_MLFLOW_ACCESS_KEY" "$S3_MLFLOW_SECRET_KEY" mlflow-artifacts

# Stacks made before the split had one application user with read-write on both buckets: remove it.
if mc admin user info lake lakehouse-app >/dev/null 2>&1; then
  mc admin user remove lake lakehouse-app
  mc admin policy remove lake lakehouse-rw >/dev/null 2>&1 || true
fi
echo "minio: buckets $LAKE_BUCKET, $MLFLOW_BUCKET; users $S3_WRITER_ACCESS_KEY, $S3_READER_ACCESS_KEY, $S3_MLFLOW_ACCESS_KEY ready"
