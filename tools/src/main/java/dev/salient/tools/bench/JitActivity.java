package dev.salient.tools.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * How long the JIT compilers worked between two calls, to tell when a measured path has been
 * compiled. On Linux it is the CPU time of HotSpot's compiler threads ({@code /proc/self/task});
 * elsewhere the compile time of {@link CompilationMXBean}, which adds a compilation's time only
 * when it ends: a long C2 compilation in progress reads as quiet there. In one run, C2 took 0.2
 * to 0.8 of a core for seconds inside windows the MXBean had called settled.
 */
final class JitActivity {
  private static final Path TASKS = Path.of("/proc/self/task");
  /** The kernel's USER_HZ: /proc reports CPU time in these ticks on every Linux platform. */
  private static final long MILLIS_PER_TICK = 10;

  /** Null when the compiler threads' CPU is read from /proc instead. */
  private final CompilationMXBean compilation;
  /** CPU ticks of each compiler thread (by thread id) at the last call; they come and go. */
  private final Map<String, Long> ticksByThread = new HashMap<>();
  private long compileMillis;

  private JitActivity(CompilationMXBean compilation) {
    this.compilation = compilation;
  }

  /** Starts counting now; null when this JVM can measure neither. */
  static JitActivity start() {
    JitActivity jit;
    if (Files.isDirectory(TASKS)) {
      jit = new JitActivity(null);
    } else {
      CompilationMXBean bean = ManagementFactory.getCompilationMXBean();
      if (bean == null || !bean.isCompilationTimeMonitoringSupported()) {
        return null;
      }
      jit = new JitActivity(bean);
    }
    jit.millisSinceLastCall();
    return jit;
  }

  /** Milliseconds of compiler work since the previous call. */
  long millisSinceLastCall() {
    if (compilation == null) {
      return compilerThreadMillis();
    }
    long now = compilation.getTotalCompilationTime();
    long since = now - compileMillis;
    compileMillis = now;
    return since;
  }

  private long compilerThreadMillis() {
    long ticks = 0;
    Map<String, Long> seen = new HashMap<>();
    try (Stream<Path> tasks = Files.list(TASKS)) {
      for (Path task : (Iterable<Path>) tasks::iterator) {
        String stat;
        try {
          stat = Files.readString(task.resolve("stat"));
        } catch (IOException gone) {
          continue;
        }
        long threadTicks = compilerThreadTicks(stat);
        if (threadTicks < 0) {
          continue;
        }
        String id = task.getFileName().toString();
        seen.put(id, threadTicks);
        ticks += threadTicks - ticksByThread.getOrDefault(id, 0L);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + TASKS, e);
    }
    ticksByThread.clear();
    ticksByThread.putAll(seen);
    return ticks * MILLIS_PER_TICK;
  }

  /**
   * The CPU ticks (user + system) of a thread from its {@code /proc/.../stat} line, or -1 when it
   * is not a JIT compiler thread. The line is "tid (comm) state ppid ... utime stime ...", and
   * the thread name in it may hold spaces ("C2 CompilerThre", cut to 15 characters).
   */
  static long compilerThreadTicks(String stat) {
    int open = stat.indexOf('(');
    int close = stat.lastIndexOf(')');
    String name = stat.substring(open + 1, close);
    if (!name.startsWith("C1 CompilerThre") && !name.startsWith("C2 CompilerThre")) {
      return -1;
    }
    String[] fields = stat.substring(close + 2).split(" ");
    return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
  }
}
