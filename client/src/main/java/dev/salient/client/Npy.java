package dev.salient.client;

import com.google.protobuf.ByteString;
import dev.salient.grpc.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads and writes float32 tensors as NumPy {@code .npy} files (little-endian, C order). */
public final class Npy {

  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  // numpy pads the header so that the data starts on a 64-byte boundary.
  private static final int ALIGNMENT = 64;
  private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
  private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

  private Npy() {}

  /** Writes {@code tensor} to {@code file} as an {@code .npy} version 1.0 file of '<f4'. */
  public static void write(Path file, Tensor tensor) throws IOException {
    long[] shape = tensor.getShapeList().stream().mapToLong(Long::longValue).toArray();
    long expected = elementCount(shape) * Float.BYTES;
    if (tensor.getData().size() != expected) {
      throw new IllegalArgumentException(
          "tensor data has "
              + tensor.getData().size()
              + " bytes, shape "
              + tensor.getShapeList()
              + " needs "
              + expected);
    }
    try (OutputStream out = Files.newOutputStream(file)) {
      out.write(header(shape));
      tensor.getData().writeTo(out);
    }
  }

  /** The complete version 1.0 header (magic to newline) for a float32 array of {@code shape}. */
  public static byte[] header(long[] shape) {
    StringBuilder dict = new StringBuilder("{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < shape.length; i++) {
      dict.append(i == 0 ? "" : " ").append(shape[i]).append(',');
    }
    if (shape.length > 1) {
      dict.setLength(dict.length() - 1);
    }
    dict.append("), }");
    int unpadded = MAGIC.length + 4 + dict.length() + 1;
    int padded = (unpadded + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    dict.append(" ".repeat(padded - unpadded)).append('\n');
    int headerLength = padded - MAGIC.length - 4;
    byte[] out = new byte[padded];
    System.arraycopy(MAGIC, 0, out, 0, MAGIC.length);
    out[6] = 1;
    out[7] = 0;
    out[8] = (byte) (headerLength & 0xff);
    out[9] = (byte) (headerLength >>> 8);
    byte[] text = dict.toString().getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(text, 0, out, 10, text.length);
    return out;
  }

  /** Reads a float32 little-endian C-order {@code .npy} file (versions 1 to 3) as a tensor. */
  public static Tensor read(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      byte[] prefix = in.readNBytes(8);
      if (prefix.length < 8 || !startsWithMagic(prefix)) {
        throw new IOException(file + " is not a NumPy .npy file");
      }
      int major = prefix[6];
      if (major < 1 || major > 3) {
        throw new IOException(file + ": unsupported .npy version " + major);
      }
      byte[] lengthBytes = in.readNBytes(major == 1 ? 2 : 4);
      long headerLength = 0;
      for (int i = lengthBytes.length - 1; i >= 0; i--) {
        headerLength = (headerLength << 8) | (lengthBytes[i] & 0xff);
      }
      if (headerLength > 1 << 20) {
        throw new IOException(file + ": .npy header too long");
      }
      String dict = new String(in.readNBytes((int) headerLength), StandardCharsets.ISO_8859_1);
      String descr = find(DESCR, dict, file);
      if (!descr.equals("<f4")) {
        throw new IOException(file + ": dtype " + descr + " is not float32 little-endian '<f4'");
      }
      if (find(FORTRAN, dict, file).equals("True")) {
        throw new IOException(file + ": Fortran-order arrays are not supported");
      }
      List<Long> shape = new ArrayList<>();
      for (String dim : find(SHAPE, dict, file).split(",")) {
        if (!dim.isBlank()) {
          shape.add(Long.parseLong(dim.trim()));
        }
      }
      long bytes = elementCount(shape.stream().mapToLong(Long::longValue).toArray()) * 4;
      byte[] data = in.readNBytes((int) Math.min(bytes, Integer.MAX_VALUE));
      if (data.length != bytes) {
        throw new IOException(file + ": expected " + bytes + " data bytes, found " + data.length);
      }
      return Tensor.newBuilder().addAllShape(shape).setData(ByteString.copyFrom(data)).build();
    }
  }

  private static boolean startsWithMagic(byte[] prefix) {
    for (int i = 0; i < MAGIC.length; i++) {
      if (prefix[i] != MAGIC[i]) {
        return false;
      }
    }
    return true;
  }

  private static String find(Pattern pattern, String dict, Path file) throws IOException {
    Matcher m = pattern.matcher(dict);
    if (!m.find()) {
      throw new IOException(file + ": malformed .npy header " + dict.trim());
    }
    return m.group(1);
  }

  private static long elementCount(long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in shape");
      }
      n = Math.multiplyExact(n, d);
    }
    return n;
  }
}
