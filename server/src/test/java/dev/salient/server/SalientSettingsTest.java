package dev.salient.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Reading and checking the {@code salient} configuration section. */
class SalientSettingsTest {

  private static SalientSettings settings(Map<String, Object> overrides) {
    Config config = ConfigFactory.parseMap(overrides).withFallback(ConfigFactory.load());
    return SalientSettings.create(config);
  }

  @Test
  void autoCpuWorkersAreOneOnOneCoreTwoFromTwoCoresAndOnePerFourCoresBeyond() {
    assertEquals(1, SalientSettings.cpuWorkers("auto", 1));
    assertEquals(2, SalientSettings.cpuWorkers("auto", 2));
    assertEquals(2, SalientSettings.cpuWorkers("auto", 4));
    assertEquals(2, SalientSettings.cpuWorkers("auto", 8));
    assertEquals(4, SalientSettings.cpuWorkers("AUTO", 16));
    assertEquals(16, SalientSettings.cpuWorkers("auto", 64));
  }

  @Test
  void byDefaultNoTokenIsNeededNoAccessLogIsWrittenAndOneClientMayHoldAQuarterOfThePlaces() {
    SalientSettings settings = settings(Map.of());

    assertEquals(false, settings.auth().enabled());
    assertEquals(java.util.Set.of("grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection"), settings.auth().publicServices());
    assertEquals(false, settings.accessLog());
    assertEquals(false, settings.allowPlaintextOnNetwork());
    assertEquals(settings.maxInFlight() / 4, settings.maxInFlightPerClient());
  }

  @Test
  void aReloadIntervalOfZeroIsRefused() {
    String message = assertThrows(IllegalArgumentException.class,
        () -> settings(Map.of("salient.auth.reload-interval", "0s"))).getMessage();

    assertTrue(message.startsWith("salient.auth.reload-interval must be positive"), message);
  }

  @Test
  void aNumberOfCpuWorkersIsTakenAsGiven() {
    assertEquals(3, settings(Map.of("salient.cpu-workers", 3)).cpuWorkers());
    assertEquals(1, settings(Map.of("salient.cpu-workers", "1")).cpuWorkers());
  }

  @Test
  void eachCpuWorkerGetsItsShareOfTheCoresAndAtLeastOneThread() {
    int cores = Runtime.getRuntime().availableProcessors();
    assertEquals(cores, settings(Map.of("salient.cpu-workers", 1)).cpuThreadsPerWorker());
    assertEquals(1, settings(Map.of("salient.cpu-workers", cores * 2)).cpuThreadsPerWorker());
  }

  @Test
  void threadsAreNotPinnedUnlessAsked() {
    SalientSettings settings = settings(Map.of());
    assertEquals(SalientSettings.AFFINITY_OFF, settings.serverCores());
    assertEquals(Runtime.getRuntime().availableProcessors(), settings.engineCores());
  }

  @Test
  void withServerCoresTheEnginesShareTheCoresLeftWhenThereAreAny() {
    assertEquals(3, SalientSettings.engineCores(1, 4));
    assertEquals(1, SalientSettings.engineCores(1, 2));
    assertEquals(2, SalientSettings.engineCores(2, 2));
    assertEquals(2, SalientSettings.engineCores(SalientSettings.AFFINITY_OFF, 2));
  }

  @Test
  void autoCpuWorkersAndTheirThreadsCountTheEnginesCoresOnly() {
    int cores = Runtime.getRuntime().availableProcessors();
    SalientSettings settings = settings(Map.of("salient.cpu-affinity.server-cores", 1));
    int engineCores = cores > 1 ? cores - 1 : cores;
    assertEquals(1, settings.serverCores());
    assertEquals(engineCores, settings.engineCores());
    assertEquals(SalientSettings.cpuWorkers("auto", engineCores), settings.cpuWorkers());
    assertEquals(Math.max(1, engineCores / settings.cpuWorkers()), settings.cpuThreadsPerWorker());
  }

  @Test
  void serverCoresThatAreNotOffOrAPositiveNumberNameTheKey() {
    for (Object bad : List.of("some", 0, -2)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> settings(Map.of("salient.cpu-affinity.server-cores", bad)));
      assertTrue(e.getMessage().contains("salient.cpu-affinity.server-cores"), e.getMessage());
    }
  }

  @Test
  void aCpuWorkerCountThatIsNotANumberNamesTheKey() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> settings(Map.of("salient.cpu-workers", "many")));
    assertTrue(e.getMessage().contains("salient.cpu-workers"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> settings(Map.of("salient.cpu-workers", 0)));
  }

  @Test
  void aDeviceNamedTwiceIsRefusedWithTheSettingToUseInstead() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> settings(Map.of("salient.devices", List.of("cpu", "cpu"))));
    assertTrue(e.getMessage().contains("salient.cpu-workers"), e.getMessage());
  }

  @Test
  void noMetricsPortIsServedUnlessOneIsSet() {
    assertEquals(SalientSettings.METRICS_OFF, settings(Map.of()).metricsPort());
    assertEquals(9464, settings(Map.of("salient.metrics-port", 9464)).metricsPort());
    assertEquals(0, settings(Map.of("salient.metrics-port", "0")).metricsPort());
    assertEquals(SalientSettings.METRICS_OFF,
        settings(Map.of("salient.metrics-port", "off")).metricsPort());
  }

  @Test
  void aMetricsPortThatIsNeitherOffNorAPortNamesTheKey() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> settings(Map.of("salient.metrics-port", "prometheus")));
    assertTrue(e.getMessage().contains("salient.metrics-port"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> settings(Map.of("salient.metrics-port", 70000)));
    assertTrue(e.getMessage().contains("salient.metrics-port"), e.getMessage());
  }

  @Test
  void theAutoMessageSizeIsFourMebibytesUnlessAModelsRawTensorNeedsMore() {
    SalientSettings auto = settings(Map.of());
    long mib = 1024 * 1024;

    assertEquals(4 * mib, auto.messageSizeFor(4L * 3 * 224 * 224));
    assertEquals(4L * 3 * 1024 * 1024 + 64 * 1024, auto.messageSizeFor(4L * 3 * 1024 * 1024));
  }

  @Test
  void aConfiguredMessageSizeIsTakenAsGivenWhateverTheModels() {
    SalientSettings set = settings(Map.of("salient.limits.max-message-size", "1MiB"));

    assertEquals(1024 * 1024, set.messageSizeFor(4L * 3 * 1024 * 1024));
  }

  @Test
  void theAutoDecodeBudgetIsAQuarterOfTheMaximumHeap() {
    assertEquals((long) (Runtime.getRuntime().maxMemory() * 0.25),
        settings(Map.of()).decodeBudget());
    assertEquals(64L * 1024 * 1024,
        settings(Map.of("salient.limits.decode-budget", "64MiB")).decodeBudget());
  }

  @Test
  void thePixelLimitIsFortyMegapixelsUnlessSet() {
    assertEquals(40_000_000L, settings(Map.of()).maxPixels());
    assertEquals(1_000_000L,
        settings(Map.of("salient.limits.max-pixels", "1000000")).maxPixels());
  }

  @Test
  void aPixelLimitUnderOneIsRefusedNamingTheKey() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> settings(Map.of("salient.limits.max-pixels", "0")));

    assertTrue(e.getMessage().contains("salient.limits.max-pixels"), e.getMessage());
  }

  @Test
  void aDecodeBudgetUnderOneKibibyteIsRefusedNamingTheKey() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> settings(Map.of("salient.limits.decode-budget", "10")));

    assertTrue(e.getMessage().contains("salient.limits.decode-budget"), e.getMessage());
  }
}
