package dev.salient.server.engine;

import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.util.function.Supplier;

/**
 * libtorch's switch for oneDNN (MKL-DNN), its fast CPU convolutions, as {@code
 * torch.backends.mkldnn.enabled} sets it. libtorch 2.7.1's oneDNN convolution backward now and
 * then leaves NaN in a small convolution's input gradient, in bursts that a plain rerun repeats;
 * {@link InferenceEngine} reruns such a pass with oneDNN off. The switch is process-wide, so
 * every engine thread's convolutions take libtorch's other kernels while one is off (correct,
 * slower); it is on again when the last thread that turned it off is done. DJL has no call for
 * this, so it goes through libtorch's exported C++ symbols with JNA, as {@link Nnpack} does.
 */
final class OneDnn {
  private static final String GLOBAL_CONTEXT = "_ZN2at13globalContextEv";
  private static final String SET_ENABLED = "_ZN2at7Context20setUserEnabledMkldnnEb";
  private static final String ENABLED = "_ZNK2at7Context17userEnabledMkldnnEv";

  private static int turnedOff;

  private OneDnn() {}

  /** libtorch_cpu, looked up once (it reads /proc/self/maps); null where it is not found. */
  private static final class Torch {
    static final NativeLibrary LIBRARY = Nnpack.torchCpu().orElse(null);
  }

  /**
   * Runs {@code call} with oneDNN off, or as it is where libtorch's switch cannot be reached.
   */
  static <T> T without(Supplier<T> call) {
    NativeLibrary torch = Torch.LIBRARY;
    if (torch == null) {
      return call.get();
    }
    switchOff(torch);
    try {
      return call.get();
    } finally {
      switchBack(torch);
    }
  }

  /** Whether libtorch uses oneDNN now (its user switch). */
  static boolean enabled() {
    NativeLibrary torch = Torch.LIBRARY;
    if (torch == null) {
      throw new IllegalStateException("libtorch_cpu is not loaded");
    }
    return (torch.getFunction(ENABLED).invokeInt(new Object[] {context(torch)}) & 0xff) != 0;
  }

  private static synchronized void switchOff(NativeLibrary torch) {
    if (turnedOff++ == 0) {
      set(torch, false);
    }
  }

  private static synchronized void switchBack(NativeLibrary torch) {
    if (--turnedOff == 0) {
      set(torch, true);
    }
  }

  private static void set(NativeLibrary torch, boolean enabled) {
    torch.getFunction(SET_ENABLED).invokeVoid(new Object[] {context(torch), enabled});
  }

  private static Pointer context(NativeLibrary torch) {
    return torch.getFunction(GLOBAL_CONTEXT).invokePointer(new Object[0]);
  }
}
