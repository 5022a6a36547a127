package dev.salient.client.video;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.Java2DFrameConverter;

/** Small synthetic videos for the tests: a white square moving right over black. */
public final class TestVideos {

  /** Side of the square, pixels. */
  static final int SQUARE = 8;

  private TestVideos() {}

  /** Frame {@code i}: the square's left edge is at x = 2 i. */
  public static BufferedImage frame(int i, int width, int height) {
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
    Graphics2D g = image.createGraphics();
    try {
      g.setColor(Color.BLACK);
      g.fillRect(0, 0, width, height);
      g.setColor(Color.WHITE);
      g.fillRect(2 * i, (height - SQUARE) / 2, SQUARE, SQUARE);
    } finally {
      g.dispose();
    }
    return image;
  }

  /** Writes {@code frames} frames at {@code fps} into an MP4 with FFmpeg's own recorder. */
  public static Path movingSquareMp4(Path file, int frames, double fps, int width, int height)
      throws Exception {
    // FFmpeg prints the stream layout and encoder notes to stderr at its default level.
    avutil.av_log_set_level(avutil.AV_LOG_ERROR);
    try (FFmpegFrameRecorder recorder = new FFmpegFrameRecorder(file.toFile(), width, height, 0);
        Java2DFrameConverter converter = new Java2DFrameConverter()) {
      recorder.setFormat("mp4");
      recorder.setVideoCodec(avcodec.AV_CODEC_ID_MPEG4);
      recorder.setFrameRate(fps);
      recorder.setVideoQuality(2);
      recorder.start();
      for (int i = 0; i < frames; i++) {
        recorder.record(converter.convert(frame(i, width, height)));
      }
      recorder.stop();
    }
    return file;
  }

  /** The x of the centre of the bright pixels of the middle row (the square's centre). */
  public static double squareCentreX(BufferedImage image) {
    int y = image.getHeight() / 2;
    double sum = 0;
    int n = 0;
    for (int x = 0; x < image.getWidth(); x++) {
      int rgb = image.getRGB(x, y);
      int grey = ((rgb >> 16 & 0xff) + (rgb >> 8 & 0xff) + (rgb & 0xff)) / 3;
      if (grey > 128) {
        sum += x;
        n++;
      }
    }
    return n == 0 ? Double.NaN : sum / n;
  }
}
