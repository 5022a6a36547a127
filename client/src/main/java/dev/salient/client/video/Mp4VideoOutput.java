package dev.salient.client.video;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.FrameRecorder;
import org.bytedeco.javacv.Java2DFrameConverter;

/**
 * An MP4 file written by FFmpeg with the {@code mpeg4} (MPEG-4 Part 2) encoder.
 *
 * <p>The FFmpeg build on Maven Central is the LGPL one: it has no H.264 encoder (libx264 is GPL),
 * while {@code mpeg4} is built in and plays in browsers' fallbacks, VLC, mpv and ffplay.
 */
public final class Mp4VideoOutput implements VideoOutput {

  // FFmpeg's qscale: 1 (best) to 31; 3 keeps heatmap edges and label text clean at small sizes.
  private static final double QUALITY = 3;

  private final FFmpegFrameRecorder recorder;
  private final Java2DFrameConverter converter = new Java2DFrameConverter();
  private final int width;
  private final int height;
  private int frames;
  private boolean closed;

  private Mp4VideoOutput(FFmpegFrameRecorder recorder, int width, int height) {
    this.recorder = recorder;
    this.width = width;
    this.height = height;
  }

  /** Starts the encoder; odd sizes are rounded up to even, which 4:2:0 chroma needs. */
  public static Mp4VideoOutput open(Path file, int width, int height, double fps)
      throws IOException {
    if (width < 1 || height < 1 || !(fps > 0)) {
      throw new IllegalArgumentException(
          "bad video size or rate: " + width + "x" + height + " at " + fps);
    }
    Ffmpeg.quiet();
    int w = width + (width & 1);
    int h = height + (height & 1);
    FFmpegFrameRecorder recorder = new FFmpegFrameRecorder(file.toFile(), w, h, 0);
    recorder.setFormat("mp4");
    recorder.setVideoCodec(avcodec.AV_CODEC_ID_MPEG4);
    recorder.setPixelFormat(avutil.AV_PIX_FMT_YUV420P);
    recorder.setFrameRate(fps);
    recorder.setVideoQuality(QUALITY);
    try {
      recorder.start();
    } catch (FrameRecorder.Exception | RuntimeException e) {
      try {
        recorder.release();
      } catch (FrameRecorder.Exception ignored) {
        // Reporting the start failure, not the clean-up one.
      }
      throw new IOException("cannot start the MP4 encoder for " + file + ": " + e.getMessage(), e);
    }
    return new Mp4VideoOutput(recorder, w, h);
  }

  @Override
  public void write(BufferedImage frame) throws IOException {
    if (closed) {
      throw new IOException("the MP4 output is closed");
    }
    BufferedImage fitted = Frames.fitted(frame, width, height, BufferedImage.TYPE_3BYTE_BGR);
    try {
      recorder.record(converter.convert(fitted));
    } catch (FrameRecorder.Exception e) {
      throw new IOException("cannot encode frame " + frames + ": " + e.getMessage(), e);
    }
    frames++;
  }

  @Override
  public int frames() {
    return frames;
  }

  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      recorder.close();
    } catch (FrameRecorder.Exception e) {
      throw new IOException("cannot finish the MP4 file: " + e.getMessage(), e);
    } finally {
      converter.close();
    }
  }
}
