package dev.salient.client.video;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalDouble;

/** Frames read one at a time from a video file or a directory of images. */
public interface VideoInput extends AutoCloseable {

  /** Frames per second of the source (the given rate for a frame directory). */
  double frameRate();

  /** The next frame, or empty at the end. */
  Optional<InputFrame> next() throws IOException;

  /**
   * Releases the decoder; idempotent. Safe while another thread is in {@link #next()}: it waits
   * for that frame, and later calls of {@code next} return empty.
   */
  @Override
  void close() throws IOException;

  /**
   * Opens {@code path}: a directory of images at {@code fps} (30 when absent), or a video file
   * FFmpeg decodes (MP4, GIF, ...) at its own rate, which {@code fps} overrides.
   */
  static VideoInput open(Path path, OptionalDouble fps) throws IOException {
    if (Files.isDirectory(path)) {
      return FrameDirectoryInput.open(path, fps.orElse(FrameDirectoryInput.DEFAULT_FPS));
    }
    if (!Files.isRegularFile(path)) {
      throw new IOException("no such file or directory");
    }
    return FfmpegVideoInput.open(path, fps);
  }
}
