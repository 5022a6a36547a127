package dev.salient.server;

import dev.salient.server.util.ResidentMemory;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;

/**
 * The server's meters for Prometheus: the scheduler's and workers' meters ({@code salient_*}),
 * the process's resident memory (heap and native memory together, where a native leak shows),
 * and the JVM's, served as text at {@code GET /metrics} on a port of their own.
 */
final class MetricsEndpoint implements AutoCloseable {
  static final String PATH = "/metrics";

  private final PrometheusMeterRegistry registry;
  private final JvmGcMetrics gc = new JvmGcMetrics();

  MetricsEndpoint() {
    registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    Gauge.builder("salient.process.resident.memory", ResidentMemory::bytes)
        .description("resident set size of the process: Java heap and native memory (libtorch)")
        .baseUnit("bytes").register(registry);
  }

  /** The registry every meter of the server goes to. */
  PrometheusMeterRegistry registry() {
    return registry;
  }

  /** Serves {@link #PATH} on {@code host:port} (0: a free port). */
  CompletionStage<ServerBinding> bind(ActorSystem<?> system, String host, int port) {
    return Http.get(system).newServerAt(host, port).bindSync(this::handle);
  }

  private HttpResponse handle(HttpRequest request) {
    if (!request.getUri().path().equals(PATH)) {
      return HttpResponse.create().withStatus(StatusCodes.NOT_FOUND)
          .withEntity("not found: the meters are at " + PATH + "\n");
    }
    if (!request.method().equals(HttpMethods.GET)) {
      return HttpResponse.create().withStatus(StatusCodes.METHOD_NOT_ALLOWED)
          .withEntity(PATH + " answers GET only\n");
    }
    // Text format 0.0.4, which every Prometheus version reads.
    return HttpResponse.create()
        .withEntity(ContentTypes.TEXT_PLAIN_UTF8, registry.scrape());
  }

  @Override
  public void close() {
    gc.close();
    registry.close();
  }
}
