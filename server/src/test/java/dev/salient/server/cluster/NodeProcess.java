package dev.salient.server.cluster;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Salient node in a JVM of its own, started with the server's main class ({@code ./salient
 * serve}'s entry point) on loopback and the test's class path; its output is kept so the test
 * can wait for what it prints.
 */
final class NodeProcess implements AutoCloseable {
  private final Process process;
  private final List<String> lines = new ArrayList<>();
  private final String name;
  private final Thread reader;

  private NodeProcess(String name, Process process) {
    this.name = name;
    this.process = process;
    reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(
          new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = in.readLine()) != null; ) {
          synchronized (lines) {
            lines.add(line);
            lines.notifyAll();
          }
        }
      } catch (IOException e) {
        // The process is gone.
      }
    }, "node-output-" + name);
    reader.setDaemon(true);
    reader.start();
  }

  /** Starts {@code ./salient serve ARGS} as node {@code name}, with one CPU worker. */
  static NodeProcess start(String name, String... args) {
    String classPath = System.getProperty("surefire.test.class.path",
        System.getProperty("java.class.path"));
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx768m", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1",
        "-Djava.util.concurrent.ForkJoinPool.common.parallelism=2",
        "-Dsalient.scheduler.measure-best-batch=false", "-Dsalient.cpu-workers=1",
        "-cp", classPath, "dev.salient.server.Main", "--host", "127.0.0.1"));
    command.addAll(List.of(args));
    try {
      return new NodeProcess(name, new ProcessBuilder(command).redirectErrorStream(true).start());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Starts the server's main class as node {@code name} with {@code jvmOptions} (the image's
   * argument file, say) before the class path and {@code env} added to this JVM's environment.
   */
  static NodeProcess start(String name, List<String> jvmOptions, Map<String, String> env,
      String... args) {
    String classPath = System.getProperty("surefire.test.class.path",
        System.getProperty("java.class.path"));
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.addAll(List.of("-cp", classPath, "dev.salient.server.Main"));
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().putAll(env);
    try {
      return new NodeProcess(name, builder.start());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The exit status, once the process has ended. */
  int exitValue() {
    return process.exitValue();
  }

  /** A free TCP port on loopback now. */
  static int freePort() {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Waits for a line matching {@code regex} and returns its first group. */
  String await(String regex, Duration timeout) throws InterruptedException {
    Pattern pattern = Pattern.compile(regex);
    long end = System.nanoTime() + timeout.toNanos();
    int seen = 0;
    synchronized (lines) {
      while (true) {
        for (; seen < lines.size(); seen++) {
          Matcher m = pattern.matcher(lines.get(seen));
          if (m.find()) {
            return m.groupCount() > 0 ? m.group(1) : m.group();
          }
        }
        long left = end - System.nanoTime();
        if (!process.isAlive() && reader.isAlive()) {
          // The process is gone but its last lines may still be in the pipe: read them first.
          lines.wait(100);
          continue;
        }
        if (left <= 0 || !process.isAlive() && seen == lines.size()) {
          throw new AssertionError("node " + name + " printed no line matching " + regex
              + (process.isAlive() ? " within " + timeout : " before it exited") + "; output:\n"
              + String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size())));
        }
        lines.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    }
  }

  /** Everything the node printed so far. */
  String output() {
    synchronized (lines) {
      return String.join("\n", lines);
    }
  }

  /** Kills the JVM at once (SIGKILL), as a machine that dies. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  /** SIGTERM: the node drains and leaves the cluster. */
  boolean terminate(Duration timeout) throws InterruptedException {
    process.destroy();
    return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  boolean alive() {
    return process.isAlive();
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive() && !terminate(Duration.ofSeconds(20))) {
      kill();
    }
  }
}
