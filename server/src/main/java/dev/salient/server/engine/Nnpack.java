package dev.salient.server.engine;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * NNPACK, libtorch's fast path for convolutions on batches of 16 or more, on CPUs where it cannot
 * start. libtorch then prints "Could not initialize NNPACK! Reason: Unsupported hardware." on
 * stderr at every such convolution (it checks availability before each one, and the C++ library
 * ignores TORCH_CPP_LOG_LEVEL unless Python initialises its logging). Switching NNPACK off where it
 * is unavailable, as {@code torch.backends.nnpack.set_flags(False)} does, stops the checks; where
 * NNPACK works it is left on. DJL has no call for this, so it goes through libtorch's exported C++
 * symbols with JNA.
 */
final class Nnpack {
  private static final Logger log = LoggerFactory.getLogger(Nnpack.class);
  private static final String AVAILABLE = "_ZN2at6native17_nnpack_availableEv";
  private static final String GLOBAL_CONTEXT = "_ZN2at13globalContextEv";
  private static final String SET_ENABLED = "_ZN2at7Context20setUserEnabledNNPACKEb";
  private static final String ENABLED = "_ZNK2at7Context17userEnabledNNPACKEv";

  private static boolean settled;

  private Nnpack() {}

  /**
   * Turns NNPACK off when libtorch cannot start it, once per process. Call after the PyTorch
   * engine has loaded its native library.
   */
  static synchronized void disableWhereUnavailable() {
    if (settled) {
      return;
    }
    settled = true;
    Optional<NativeLibrary> torch = torchCpu();
    if (torch.isEmpty()) {
      log.debug("libtorch_cpu not found among the process's mapped libraries; NNPACK left as is");
      return;
    }
    try {
      if (available(torch.get())) {
        return;
      }
      Pointer context = torch.get().getFunction(GLOBAL_CONTEXT).invokePointer(new Object[0]);
      torch.get().getFunction(SET_ENABLED).invokeVoid(new Object[] {context, Boolean.FALSE});
      log.info("NNPACK cannot start on this CPU (libtorch's warning above); convolutions use"
          + " libtorch's other CPU kernels and the check is not repeated");
    } catch (UnsatisfiedLinkError e) {
      log.debug("libtorch does not export the NNPACK switches ({}); NNPACK left as is",
          e.getMessage());
    }
  }

  /** Whether libtorch would use NNPACK for a large enough convolution (its user switch is on). */
  static boolean userEnabled() {
    NativeLibrary torch = torchCpu().orElseThrow(
        () -> new IllegalStateException("libtorch_cpu is not loaded"));
    Pointer context = torch.getFunction(GLOBAL_CONTEXT).invokePointer(new Object[0]);
    return (torch.getFunction(ENABLED).invokeInt(new Object[] {context}) & 0xff) != 0;
  }

  /** Whether NNPACK starts on this CPU (libtorch prints its warning the first time it does not). */
  static boolean available() {
    return torchCpu().map(Nnpack::available).orElse(false);
  }

  private static boolean available(NativeLibrary torch) {
    Function check = torch.getFunction(AVAILABLE);
    // A C++ bool comes back in the low byte of the return register.
    return (check.invokeInt(new Object[0]) & 0xff) != 0;
  }

  /** The libtorch_cpu DJL loaded, found by its path in the process's memory map (Linux). */
  /** libtorch_cpu among the libraries this process has mapped, when it is loaded. */
  static Optional<NativeLibrary> torchCpu() {
    Path maps = Path.of("/proc/self/maps");
    if (!Files.isReadable(maps)) {
      return Optional.empty();
    }
    try (Stream<String> lines = Files.lines(maps)) {
      return lines.map(line -> line.substring(line.lastIndexOf(' ') + 1))
          .filter(path -> path.endsWith("/libtorch_cpu.so"))
          .findFirst()
          .map(NativeLibrary::getInstance);
    } catch (IOException e) {
      return Optional.empty();
    }
  }
}
