package dev.salient.server.util;

/**
 * Keeps {@code CompletableFuture}'s default async executor a thread pool on small machines.
 *
 * <p>Pekko gRPC's generated handlers chain {@code thenApply} on Scala futures converted to
 * {@code CompletableFuture}s, and Scala's converter turns every {@code thenApply} into
 * {@code thenApplyAsync} on the default executor. With 2 cores the JDK sizes the common pool to 1
 * and then gives {@code *Async} calls a new thread each ({@code ThreadPerTaskExecutor}): two
 * thread starts per RPC, which halved the server's throughput on a 2-core machine
 * (vanilla.16clients 145 vs 270 req/s, {@code ./salient bench --models default}).
 */
public final class CommonPool {
  /** The system property the JDK reads once, when the common pool is first used. */
  public static final String PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";

  private CommonPool() {}

  /**
   * Asks for a common pool of at least two threads unless the property is already set; call it
   * first in {@code main}, before anything touches the common pool.
   */
  public static void ensureAtLeastTwoThreads() {
    if (System.getProperty(PARALLELISM) == null
        && Runtime.getRuntime().availableProcessors() <= 2) {
      System.setProperty(PARALLELISM, "2");
    }
  }
}
