package dev.salient.server.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Pinning threads to cores with sched_setaffinity. */
class CpuAffinityTest {

  private static List<Integer> allowedWithTwoCores() {
    assumeTrue(CpuAffinity.supported(), "CPU affinity is Linux only");
    List<Integer> allowed = CpuAffinity.ofCurrentThread();
    assumeTrue(allowed.size() >= 2, "needs two cores, this process may use " + allowed);
    return allowed;
  }

  @Test
  void aPinnedThreadAndTheThreadsItStartsRunOnItsCoresOnly() throws Exception {
    List<Integer> allowed = allowedWithTwoCores();
    List<Integer> last = List.of(allowed.get(allowed.size() - 1));
    CompletableFuture<List<Integer>> child = new CompletableFuture<>();
    CompletableFuture<List<Integer>> pinned = new CompletableFuture<>();
    AtomicInteger processors = new AtomicInteger();
    Thread thread = new Thread(() -> {
      CpuAffinity.pinCurrentThread(last);
      pinned.complete(CpuAffinity.ofCurrentThread());
      processors.set(Runtime.getRuntime().availableProcessors());
      Thread started = new Thread(() -> child.complete(CpuAffinity.ofCurrentThread()));
      started.start();
    });
    thread.start();
    assertEquals(last, pinned.get(10, TimeUnit.SECONDS));
    assertEquals(last, child.get(10, TimeUnit.SECONDS));
    thread.join();
    assertEquals(1, processors.get(), "the JVM counts the pinned thread's cores");
    assertEquals(allowed, CpuAffinity.ofCurrentThread(), "other threads are left alone");
  }

  @Test
  void pinningAllThreadsMovesThreadsThatAlreadyRunAndCanBeUndone() throws Exception {
    List<Integer> allowed = allowedWithTwoCores();
    List<Integer> first = List.of(allowed.get(0));
    CountDownLatch pinnedAll = new CountDownLatch(1);
    CompletableFuture<List<Integer>> seen = new CompletableFuture<>();
    Thread running = new Thread(() -> {
      try {
        pinnedAll.await();
        seen.complete(CpuAffinity.ofCurrentThread());
      } catch (InterruptedException e) {
        seen.completeExceptionally(e);
      }
    });
    running.start();
    try {
      int pinned = CpuAffinity.pinAllThreads(first);
      assertEquals(true, pinned >= 2, "at least this thread and the waiting one: " + pinned);
      pinnedAll.countDown();
      assertEquals(first, seen.get(10, TimeUnit.SECONDS));
      assertEquals(first, CpuAffinity.ofCurrentThread());
    } finally {
      CpuAffinity.pinAllThreads(allowed);
    }
    assertEquals(allowed, CpuAffinity.ofCurrentThread());
    running.join();
  }

  @Test
  void anEmptyOrImpossibleCoreListIsRefused() {
    assumeTrue(CpuAffinity.supported(), "CPU affinity is Linux only");
    assertThrows(IllegalArgumentException.class, () -> CpuAffinity.pinCurrentThread(List.of()));
    assertThrows(IllegalArgumentException.class,
        () -> CpuAffinity.pinCurrentThread(List.of(-1)));
    assertThrows(IllegalArgumentException.class,
        () -> CpuAffinity.pinCurrentThread(List.of(100_000)));
  }
}
