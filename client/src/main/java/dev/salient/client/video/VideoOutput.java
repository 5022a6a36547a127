package dev.salient.client.video;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/** Frames written one at a time into a video file. */
public interface VideoOutput extends AutoCloseable {

  /** Appends one frame; frames larger or smaller than the output's size are scaled to it. */
  void write(BufferedImage frame) throws IOException;

  /** Frames written so far. */
  int frames();

  /** Finishes the file (trailer, index) and releases the encoder; idempotent. */
  @Override
  void close() throws IOException;

  /**
   * Opens {@code file} for frames of {@code width} × {@code height} at {@code fps}: an MP4
   * (MPEG-4 Part 2 video) for {@code .mp4}, an animated GIF that loops for {@code .gif}.
   */
  static VideoOutput open(Path file, int width, int height, double fps) throws IOException {
    return switch (kind(file)) {
      case "mp4" -> Mp4VideoOutput.open(file, width, height, fps);
      case "gif" -> GifVideoOutput.open(file, width, height, fps);
      default -> throw new IllegalArgumentException(unsupported(file));
    };
  }

  /** Fails with a usage message unless {@code file} ends in .mp4 or .gif. */
  static void checkSupported(Path file) {
    String kind = kind(file);
    if (!kind.equals("mp4") && !kind.equals("gif")) {
      throw new IllegalArgumentException(unsupported(file));
    }
  }

  private static String kind(Path file) {
    String name = file.getFileName() == null ? "" : file.getFileName().toString();
    int dot = name.lastIndexOf('.');
    return dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
  }

  private static String unsupported(Path file) {
    return "the output file must end in .mp4 or .gif, got " + file;
  }
}
