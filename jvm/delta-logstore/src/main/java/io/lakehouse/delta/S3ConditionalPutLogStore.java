package io.lakehouse.delta;

import io.delta.storage.HadoopFileSystemLogStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Iterator;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.s3a.RemoteFileChangedException;
import software.amazon.awssdk.awscore.exception.AwsServiceException;

/**
 * A Delta log store for S3 (and MinIO) that is safe with several writers in several JVMs.
 *
 * <p>Delta needs the storage to create a commit file {@code _delta_log/N.json} only if it does not
 * exist yet, atomically. {@code S3SingleDriverLogStore} checks and writes under a lock that exists
 * only inside one JVM, so two drivers committing version N at once both "succeed" and one commit is
 * lost. Here a non-overwrite write is one conditional PUT ({@code If-None-Match: *}, through S3A's
 * {@code createFile()} option {@code fs.option.create.conditional.overwrite}, Hadoop 3.5): the store
 * itself refuses the second writer with 412 Precondition Failed, which becomes the {@link
 * java.nio.file.FileAlreadyExistsException} Delta's optimistic concurrency expects (it then checks
 * for logical conflicts and retries with the next version).
 *
 * <p>A 412 on a commit whose stored bytes equal ours means an earlier attempt of this very PUT
 * succeeded but its answer was lost (a client retry): that is our commit, so the write succeeded.
 * A 409 ConditionalRequestConflict (another conditional write to the key is in flight on AWS) is
 * retried; the retry then sees 412 if the other writer won. Reads and listing are Hadoop's (S3 is
 * strongly consistent, so no cache of written files is needed). Overwrites ({@code _last_checkpoint})
 * are a plain PUT. A whole-object PUT is never partially visible.
 */
public class S3ConditionalPutLogStore extends HadoopFileSystemLogStore {

  /** The S3A createFile() option (HADOOP-19256) that adds If-None-Match: * to the PUT. */
  public static final String CONDITIONAL_OVERWRITE = "fs.option.create.conditional.overwrite";

  private static final int IN_FLIGHT_RETRIES = 8;

  public S3ConditionalPutLogStore(Configuration initHadoopConf) {
    super(initHadoopConf);
  }

  @Override
  public void write(Path path, Iterator<String> actions, Boolean overwrite, Configuration hadoopConf)
      throws IOException {
    final FileSystem fs = path.getFileSystem(hadoopConf);
    final Path resolved = fs.makeQualified(path);
    final byte[] body = serialise(actions);
    if (overwrite) {
      try (FSDataOutputStream out = fs.create(resolved, true)) {
        out.write(body);
      }
      return;
    }
    if (!fs.hasPathCapability(resolved, CONDITIONAL_OVERWRITE)) {
      // Fail closed: without a conditional create this store cannot keep concurrent writers apart.
      throw new IOException(
          "S3ConditionalPutLogStore: " + fs.getUri() + " has no conditional create (" + CONDITIONAL_OVERWRITE
              + "); needs S3A from Hadoop 3.5+ with fs.s3a.create.conditional.enabled=true");
    }
    for (int attempt = 1; ; attempt++) {
      try {
        putIfAbsent(fs, resolved, body);
        return;
      } catch (IOException error) {
        final Outcome outcome = classify(error);
        if (outcome == Outcome.EXISTS) {
          if (holds(fs, resolved, body)) {
            return; // our own earlier attempt landed
          }
          throw alreadyExists(resolved, error);
        }
        if (outcome == Outcome.IN_FLIGHT) {
          if (attempt >= IN_FLIGHT_RETRIES) {
            throw alreadyExists(resolved, error);
          }
          pause(attempt);
          continue;
        }
        throw error;
      }
    }
  }

  @Override
  public Boolean isPartialWriteVisible(Path path, Configuration hadoopConf) {
    return false;
  }

  private static void putIfAbsent(FileSystem fs, Path path, byte[] body) throws IOException {
    final FSDataOutputStream out =
        (FSDataOutputStream) fs.createFile(path).overwrite(false).must(CONDITIONAL_OVERWRITE, true).build();
    try {
      out.write(body);
    } catch (IOException | RuntimeException error) {
      out.abort(); // never upload a partial commit on close
      throw error;
    }
    out.close(); // the PUT happens here; a 412 surfaces here
  }

  enum Outcome {
    EXISTS,
    IN_FLIGHT,
    OTHER
  }

  /** What a failed conditional create means, from the exception and its causes. */
  static Outcome classify(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause()) {
      if (t instanceof AwsServiceException) {
        final AwsServiceException aws = (AwsServiceException) t;
        if (aws.statusCode() == 412) {
          return Outcome.EXISTS;
        }
        if (aws.statusCode() == 409) {
          return Outcome.IN_FLIGHT;
        }
      }
      if (t instanceof java.nio.file.FileAlreadyExistsException
          || t instanceof org.apache.hadoop.fs.FileAlreadyExistsException
          || t instanceof RemoteFileChangedException) {
        return Outcome.EXISTS;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return Outcome.OTHER;
  }

  /** Whether the object at path holds exactly body. */
  private static boolean holds(FileSystem fs, Path path, byte[] body) throws IOException {
    final byte[] stored = new byte[body.length + 1];
    int read = 0;
    try (InputStream in = fs.open(path)) {
      for (int n; read < stored.length && (n = in.read(stored, read, stored.length - read)) > 0; ) {
        read += n;
      }
    } catch (java.io.FileNotFoundException gone) {
      return false;
    }
    return read == body.length && Arrays.equals(Arrays.copyOf(stored, read), body);
  }

  private static byte[] serialise(Iterator<String> actions) {
    final StringBuilder text = new StringBuilder();
    while (actions.hasNext()) {
      text.append(actions.next()).append('\n');
    }
    return text.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static java.nio.file.FileAlreadyExistsException alreadyExists(Path path, Throwable cause) {
    final java.nio.file.FileAlreadyExistsException exists =
        new java.nio.file.FileAlreadyExistsException(path.toString(), null, "committed by another writer");
    exists.initCause(cause);
    return exists;
  }

  private static void pause(int attempt) throws InterruptedIOException {
    try {
      Thread.sleep(Math.min(1000L, 25L << attempt));
    } catch (InterruptedException interrupted) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while retrying a conditional commit");
    }
  }
}
