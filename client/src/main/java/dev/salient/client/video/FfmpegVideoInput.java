package dev.salient.client.video;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalDouble;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.bytedeco.javacv.Frame;
import org.bytedeco.javacv.FrameGrabber;

/** A video file decoded by FFmpeg (through JavaCV), video stream only. */
public final class FfmpegVideoInput implements VideoInput {

  private final FFmpegFrameGrabber grabber;
  private final double fps;
  private final boolean retimed;
  private long index;
  private boolean closed;

  private FfmpegVideoInput(FFmpegFrameGrabber grabber, double fps, boolean retimed) {
    this.grabber = grabber;
    this.fps = fps;
    this.retimed = retimed;
  }

  /** Opens {@code file}; {@code fps}, when given, replaces the file's frame rate. */
  public static FfmpegVideoInput open(Path file, OptionalDouble fps) throws IOException {
    Ffmpeg.quiet();
    FFmpegFrameGrabber grabber = new FFmpegFrameGrabber(file.toFile());
    // Packed BGR is what TYPE_3BYTE_BGR holds, so a frame is copied row by row.
    grabber.setPixelFormat(avutil.AV_PIX_FMT_BGR24);
    try {
      grabber.start();
      if (grabber.getImageWidth() <= 0 || grabber.getImageHeight() <= 0) {
        throw new IOException("no video stream in " + file);
      }
      double rate = fps.orElse(grabber.getFrameRate());
      if (!(rate > 0) || Double.isInfinite(rate)) {
        // Some containers (an image sequence, a stream without timing) carry no rate.
        rate = FrameDirectoryInput.DEFAULT_FPS;
      }
      return new FfmpegVideoInput(grabber, rate, fps.isPresent());
    } catch (FrameGrabber.Exception | RuntimeException e) {
      closeQuietly(grabber);
      throw new IOException("cannot decode " + file + ": " + e.getMessage(), e);
    } catch (IOException e) {
      closeQuietly(grabber);
      throw e;
    }
  }

  /** Width and height of the frames, in pixels. */
  public int width() {
    return grabber.getImageWidth();
  }

  /** Height of the frames, in pixels. */
  public int height() {
    return grabber.getImageHeight();
  }

  /** The container's frame count; an estimate for some formats, 0 when unknown. */
  public int frameCountEstimate() {
    return Math.max(0, grabber.getLengthInFrames());
  }

  @Override
  public double frameRate() {
    return fps;
  }

  @Override
  public synchronized Optional<InputFrame> next() throws IOException {
    if (closed) {
      return Optional.empty();
    }
    Frame frame;
    try {
      frame = grabber.grabImage();
    } catch (FrameGrabber.Exception e) {
      throw new IOException("cannot decode frame " + index + ": " + e.getMessage(), e);
    }
    if (frame == null) {
      return Optional.empty();
    }
    BufferedImage image = copy(frame);
    long timestampUs = retimed ? Math.round(index * 1e6 / fps) : frame.timestamp;
    index++;
    return Optional.of(new InputFrame(image, timestampUs));
  }

  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      grabber.close();
    } catch (FrameGrabber.Exception e) {
      throw new IOException("cannot close the decoder: " + e.getMessage(), e);
    }
  }

  // The grabber reuses the frame's buffer on the next grab, so the pixels are copied out. Rows
  // are packed BGR, 3 bytes a pixel, imageStride bytes apart (JavaCV pads the rows, and derives
  // imageChannels from that padding, so imageChannels cannot be trusted here).
  private static BufferedImage copy(Frame frame) throws IOException {
    int w = frame.imageWidth;
    int h = frame.imageHeight;
    int row = w * 3;
    if (frame.imageDepth != Frame.DEPTH_UBYTE
        || !(frame.image[0] instanceof ByteBuffer pixels)
        || frame.imageStride < row
        || pixels.limit() < (long) frame.imageStride * (h - 1) + row) {
      throw new IOException(
          "unexpected decoded frame layout: " + w + "x" + h + ", stride " + frame.imageStride
              + ", depth " + frame.imageDepth);
    }
    ByteBuffer source = pixels.duplicate();
    BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
    byte[] out = ((DataBufferByte) image.getRaster().getDataBuffer()).getData();
    for (int y = 0; y < h; y++) {
      source.position(y * frame.imageStride);
      source.get(out, y * row, row);
    }
    return image;
  }

  private static void closeQuietly(FFmpegFrameGrabber grabber) {
    try {
      grabber.close();
    } catch (FrameGrabber.Exception e) {
      // Already failing with the open error, which is the one to report.
    }
  }
}
