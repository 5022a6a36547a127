package dev.salient.server.engine;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How an encoded image becomes the model's input size, so that it matches what the model was
 * trained on: the resampling filter, the geometry (stretch, or resize the short side and crop the
 * centre) and whether an embedded ICC profile is applied. See docs/models.md, "What happens to an
 * image".
 *
 * @param resize the resampling filter, as PIL's {@code Image.resize} applies it
 * @param resizeShortSide with {@link Crop#CENTER}, the length the image's short side is resized
 *     to before the centre crop (torchvision's {@code Resize(N)}); 0 with {@link Crop#NONE}
 * @param crop {@link Crop#NONE} stretches the image to the model's size, {@link Crop#CENTER}
 *     cuts the model's size out of the middle of the resized image
 * @param colorManagement whether sample values are taken as stored or converted to sRGB
 */
public record Preprocessing(
    Filter resize, int resizeShortSide, Crop crop, ColorManagement colorManagement) {

  /**
   * For a model.json without {@code preprocessing}: PIL's antialiased bilinear filter (the
   * default of torchvision's {@code Resize}), stretched to the model's size (nothing the client
   * sent is cut off, and no resize length has to be guessed) and samples as stored (PIL, and so
   * torchvision's image loaders, ignore embedded ICC profiles).
   */
  public static final Preprocessing DEFAULT =
      new Preprocessing(Filter.BILINEAR, 0, Crop.NONE, ColorManagement.NONE);

  /** The resampling filter; each is PIL's filter of the same name, antialiased when shrinking. */
  public enum Filter {
    /** PIL {@code BILINEAR}: a triangle filter, torchvision's {@code Resize} default. */
    BILINEAR,
    /** PIL {@code BICUBIC}: Keys' cubic with a = -0.5. */
    BICUBIC,
    /** PIL {@code BOX}: the mean of the covered source area. */
    AREA,
    /** PIL {@code NEAREST}: the source pixel under each output pixel's centre. */
    NEAREST;

    /** The name in model.json and in DescribeModel. */
    public String manifestName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** What happens to an image whose aspect ratio differs from the model's. */
  public enum Crop {
    /** Stretched to the model's height and width: nothing cut off, the aspect ratio lost. */
    NONE,
    /** The short side resized to {@code resize_short_side}, then the centre cut out. */
    CENTER;

    /** The name in model.json and in DescribeModel. */
    public String manifestName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** Whether an ICC profile embedded in the file is applied. */
  public enum ColorManagement {
    /** Sample values as stored in the file, as PIL reads them. */
    NONE,
    /** Converted from the embedded profile (JPEG) to sRGB; files without one are unchanged. */
    ICC_TO_SRGB;

    /** The name in model.json and in DescribeModel. */
    public String manifestName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** Checks that the geometry fields fit together; messages use model.json's names. */
  public Preprocessing {
    if (resize == null || crop == null || colorManagement == null) {
      throw new IllegalArgumentException("resize, crop and color_management must all be set");
    }
    if (crop == Crop.CENTER && resizeShortSide < 1) {
      throw new IllegalArgumentException(
          "\"crop\": \"center\" needs \"resize_short_side\": the length in pixels the short side"
              + " is resized to before the crop (e.g. 256 for a 224x224 ImageNet model)");
    }
    if (crop == Crop.NONE && resizeShortSide != 0) {
      throw new IllegalArgumentException(
          "\"resize_short_side\" needs \"crop\": \"center\"; with \"crop\": \"none\" the image"
              + " is stretched to the model's height and width, so leave resize_short_side out");
    }
  }

  /**
   * Checks the geometry against the model's input size: the resized short side must be at least
   * as long as the crop on both axes, or torchvision would pad the image with black.
   */
  public void checkFits(int height, int width) {
    if (crop == Crop.CENTER && resizeShortSide < Math.max(height, width)) {
      throw new IllegalArgumentException(
          "\"resize_short_side\" is "
              + resizeShortSide
              + " but the centre crop is "
              + height
              + "x"
              + width
              + ": make resize_short_side at least "
              + Math.max(height, width)
              + " so the crop fits inside every image");
    }
  }

  /** Parses a model.json name of {@code type}'s constants; names the allowed ones otherwise. */
  static <E extends Enum<E>> E parse(Class<E> type, String field, String value) {
    for (E constant : type.getEnumConstants()) {
      if (constant.name().toLowerCase(Locale.ROOT).equals(value)) {
        return constant;
      }
    }
    throw new IllegalArgumentException(
        "\""
            + field
            + "\" must be one of "
            + Arrays.stream(type.getEnumConstants())
                .map(c -> "\"" + c.name().toLowerCase(Locale.ROOT) + "\"")
                .collect(Collectors.joining(", "))
            + ", not \""
            + value
            + "\"");
  }

  @Override
  public String toString() {
    String geometry =
        crop == Crop.CENTER
            ? "short side to " + resizeShortSide + ", centre crop"
            : "stretched";
    return resize.manifestName()
        + ", "
        + geometry
        + ", color management "
        + colorManagement.manifestName();
  }
}
