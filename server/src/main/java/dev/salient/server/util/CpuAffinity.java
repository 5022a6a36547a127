package dev.salient.server.util;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Platform;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Which CPUs the threads of this process may run on, through Linux's {@code sched_setaffinity}
 * (called with JNA; Java has no API for it). A thread started by a pinned thread inherits its
 * CPUs, so pinning a thread before it starts others pins those too (libtorch's OpenMP threads,
 * Pekko's dispatcher threads).
 */
public final class CpuAffinity {
  /** Longs in a glibc {@code cpu_set_t}: 1024 CPUs. */
  private static final int MASK_LONGS = 16;
  private static final LibC LIBC = load();

  private CpuAffinity() {}

  private interface LibC extends Library {
    int sched_setaffinity(int tid, NativeLong size, long[] mask) throws LastErrorException;

    int sched_getaffinity(int tid, NativeLong size, long[] mask) throws LastErrorException;
  }

  private static LibC load() {
    if (!Platform.isLinux()) {
      return null;
    }
    try {
      return Native.load("c", LibC.class);
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      return null;
    }
  }

  /** Whether threads can be pinned here (Linux, with JNA's native library loadable). */
  public static boolean supported() {
    return LIBC != null;
  }

  /** The CPUs the calling thread may run on, in ascending order. */
  public static List<Integer> ofCurrentThread() {
    return of(0);
  }

  /** The CPUs thread {@code tid} (a Linux thread id; 0 for the caller) may run on. */
  public static List<Integer> of(int tid) {
    requireSupported();
    long[] mask = new long[MASK_LONGS];
    LIBC.sched_getaffinity(tid, new NativeLong(MASK_LONGS * 8L), mask);
    List<Integer> cpus = new ArrayList<>();
    for (int cpu = 0; cpu < MASK_LONGS * 64; cpu++) {
      if ((mask[cpu / 64] & (1L << (cpu % 64))) != 0) {
        cpus.add(cpu);
      }
    }
    return List.copyOf(cpus);
  }

  /** Keeps the calling thread, and the threads it starts from now on, on {@code cpus}. */
  public static void pinCurrentThread(List<Integer> cpus) {
    requireSupported();
    LIBC.sched_setaffinity(0, new NativeLong(MASK_LONGS * 8L), mask(cpus));
  }

  /**
   * Keeps every thread the process has now (the JVM's own among them: GC, JIT compilers) on
   * {@code cpus}; threads they start later inherit it. Returns the number of threads pinned.
   */
  public static int pinAllThreads(List<Integer> cpus) {
    requireSupported();
    long[] mask = mask(cpus);
    // A thread started while we go through the list by one not yet pinned would keep every
    // core: list again until a listing shows no thread not yet seen.
    Set<Integer> seen = new HashSet<>();
    int pinned = 0;
    boolean found = true;
    while (found) {
      found = false;
      for (int tid : threadIds()) {
        if (!seen.add(tid)) {
          continue;
        }
        found = true;
        try {
          LIBC.sched_setaffinity(tid, new NativeLong(MASK_LONGS * 8L), mask);
          pinned++;
        } catch (LastErrorException e) {
          // ESRCH: the thread ended while we went through the list.
        }
      }
    }
    return pinned;
  }

  /** The Linux thread ids of this process. */
  static List<Integer> threadIds() {
    try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
      return tasks.map(p -> Integer.parseInt(p.getFileName().toString())).toList();
    } catch (IOException e) {
      throw new IllegalStateException("cannot list this process's threads in /proc/self/task: "
          + e.getMessage(), e);
    }
  }

  private static long[] mask(List<Integer> cpus) {
    if (cpus.isEmpty()) {
      throw new IllegalArgumentException("no CPUs to pin to");
    }
    long[] mask = new long[MASK_LONGS];
    for (int cpu : cpus) {
      if (cpu < 0 || cpu >= MASK_LONGS * 64) {
        throw new IllegalArgumentException("CPU " + cpu + " is out of 0.." + (MASK_LONGS * 64 - 1));
      }
      mask[cpu / 64] |= 1L << (cpu % 64);
    }
    return mask;
  }

  private static void requireSupported() {
    if (LIBC == null) {
      throw new UnsupportedOperationException("CPU affinity needs Linux (this is "
          + System.getProperty("os.name") + ") and JNA's native library");
    }
  }
}
