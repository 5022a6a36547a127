package dev.salient.client.video;

import org.bytedeco.ffmpeg.global.avutil;

/** Process-wide FFmpeg settings the video classes share. */
final class Ffmpeg {

  private static boolean quiet;

  private Ffmpeg() {}

  /**
   * Keeps FFmpeg's own log to fatal errors: it writes straight to stderr, around the CLI's
   * output, and the errors it would print come back as exceptions the CLI reports itself.
   */
  static synchronized void quiet() {
    if (!quiet) {
      avutil.av_log_set_level(avutil.AV_LOG_FATAL);
      quiet = true;
    }
  }
}
