package dev.salient.client.video;

import com.google.protobuf.ByteString;
import dev.salient.grpc.ModelInfo;
import dev.salient.grpc.Tensor;
import java.awt.image.BufferedImage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A model's input contract, and the conversion of a frame into the raw tensor it takes: resized
 * to the model's size, grey models get luminance, values scaled into the model's pixel range.
 *
 * @param channels 1 (grey) or 3 (RGB)
 * @param height input height, pixels
 * @param width input width, pixels
 * @param pixelMin the value of a black pixel
 * @param pixelMax the value of a white pixel
 */
public record ModelInput(int channels, int height, int width, float pixelMin, float pixelMax) {

  /** Checks the contract. */
  public ModelInput {
    if (channels != 1 && channels != 3) {
      throw new IllegalArgumentException(
          "video frames go to models with 1 or 3 input channels, this one has " + channels);
    }
    if (height < 1 || width < 1) {
      throw new IllegalArgumentException("bad model input size " + width + "x" + height);
    }
    if (!(pixelMax > pixelMin)) {
      throw new IllegalArgumentException("bad pixel range [" + pixelMin + ", " + pixelMax + "]");
    }
  }

  /** The input contract DescribeModel reports; a range left unset (0, 0) means [0, 1]. */
  public static ModelInput of(ModelInfo model) {
    if (model.getInputShapeCount() != 3) {
      throw new IllegalArgumentException(
          "model " + model.getName() + " has input shape " + model.getInputShapeList()
              + ", not [C, H, W]");
    }
    float min = model.getPixelMin();
    float max = model.getPixelMax();
    if (min == 0 && max == 0) {
      max = 1;
    }
    return new ModelInput(
        Math.toIntExact(model.getInputShape(0)),
        Math.toIntExact(model.getInputShape(1)),
        Math.toIntExact(model.getInputShape(2)),
        min,
        max);
  }

  /** {@code frame} as a float32 [C, H, W] tensor in the model's size and pixel range. */
  public Tensor tensor(BufferedImage frame) {
    BufferedImage small = Frames.scaled(frame, width, height, BufferedImage.TYPE_INT_RGB);
    int[] rgb = small.getRGB(0, 0, width, height, null, 0, width);
    int plane = width * height;
    ByteBuffer data = ByteBuffer.allocate(channels * plane * 4).order(ByteOrder.LITTLE_ENDIAN);
    double span = (double) pixelMax - pixelMin;
    for (int c = 0; c < channels; c++) {
      for (int i = 0; i < plane; i++) {
        int p = rgb[i];
        int r = (p >> 16) & 0xff;
        int g = (p >> 8) & 0xff;
        int b = p & 0xff;
        double v =
            channels == 1
                ? (0.299 * r + 0.587 * g + 0.114 * b) / 255.0
                : (c == 0 ? r : c == 1 ? g : b) / 255.0;
        // The server refuses values outside the range; rounding must not push one out.
        float x = (float) (pixelMin + Math.min(1.0, v) * span);
        data.putFloat(Math.max(pixelMin, Math.min(pixelMax, x)));
      }
    }
    return Tensor.newBuilder()
        .addShape(channels)
        .addShape(height)
        .addShape(width)
        .setData(ByteString.copyFrom(data.array()))
        .build();
  }
}
