package dev.salient.client.cli;

import dev.salient.client.Npy;
import dev.salient.grpc.Result;
import dev.salient.grpc.SaliencyMap;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a result's maps as {@code <stem>.<method>.<map>.png} (the overlay), {@code .figure.png}
 * (the server's figure: title, overlay, colour bar) and {@code .npy} files.
 */
final class MapFiles {

  private MapFiles() {}

  /** Creates {@code dir} (and parents); done before the call so a bad path fails early. */
  static void createDirectory(Path dir) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new CliFailure("cannot create output directory " + dir + ": " + e, e);
    }
  }

  /** Writes every map of {@code result}; returns the files, in the result's map order. */
  static List<WrittenMap> write(Path dir, String stem, String method, Result result) {
    List<WrittenMap> written = new ArrayList<>();
    for (SaliencyMap map : result.getMapsList()) {
      String base = safe(stem) + "." + safe(method) + "." + safe(map.getName());
      Path png = null;
      Path figure = null;
      Path npy = dir.resolve(base + ".npy");
      try {
        if (!map.getOverlayPng().isEmpty()) {
          png = dir.resolve(base + ".png");
          Files.write(png, map.getOverlayPng().toByteArray());
        }
        if (!map.getFigurePng().isEmpty()) {
          figure = dir.resolve(base + ".figure.png");
          Files.write(figure, map.getFigurePng().toByteArray());
        }
        Npy.write(npy, map.getTensor());
      } catch (IOException e) {
        throw new CliFailure("cannot write map " + map.getName() + " to " + dir + ": " + e, e);
      } catch (IllegalArgumentException e) {
        throw new CliFailure(
            "server sent a malformed map " + map.getName() + ": " + e.getMessage());
      }
      written.add(new WrittenMap(map.getName(), png, npy, figure));
    }
    return written;
  }

  // Names come from the server and the user; keep them to one plain path segment.
  private static String safe(String name) {
    String s = name.replaceAll("[^A-Za-z0-9_.-]", "_");
    return s.isEmpty() || s.chars().allMatch(c -> c == '.') ? "_" : s;
  }
}
