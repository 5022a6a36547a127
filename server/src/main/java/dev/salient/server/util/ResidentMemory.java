package dev.salient.server.util;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The process's resident memory (Java heap and native memory together), from /proc. */
public final class ResidentMemory {
  private ResidentMemory() {}

  /** Resident set size in bytes, or -1 where /proc/self/status is not available. */
  public static long bytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
    return -1;
  }
}
