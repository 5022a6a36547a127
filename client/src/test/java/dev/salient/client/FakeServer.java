package dev.salient.client;

import dev.salient.grpc.ExplainerHandlerFactory;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.HttpsConnectionContext;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.ServerBuilder;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.japi.function.Function;
import org.slf4j.LoggerFactory;

/** A real gRPC server on 127.0.0.1 and a free port, serving a {@link FakeExplainer}. */
public final class FakeServer implements AutoCloseable {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  /** The fake behind the server; tests change its answers. */
  public final FakeExplainer explainer = new FakeExplainer();

  /** The authorization header of each call, in order ("" for a call without one). */
  public final List<String> authorizations = new CopyOnWriteArrayList<>();

  private final ActorSystem<Void> system;
  private final ServerBinding binding;

  static {
    // Start logback before the actor system's threads log, or SLF4J warns that it replays them.
    LoggerFactory.getILoggerFactory();
  }

  private FakeServer(HttpsConnectionContext https) throws Exception {
    system = ActorSystem.create(Behaviors.empty(), "fake-server");
    try {
      ServerBuilder builder = Http.get(system).newServerAt("127.0.0.1", 0);
      binding =
          (https == null ? builder : builder.enableHttps(https))
              .bind(recordingAuthorization(ExplainerHandlerFactory.create(explainer, system)))
              .toCompletableFuture()
              .get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      system.terminate();
      throw e;
    }
  }

  private Function<HttpRequest, CompletionStage<HttpResponse>> recordingAuthorization(
      Function<HttpRequest, CompletionStage<HttpResponse>> handler) {
    return request -> {
      authorizations.add(request.getHeader("authorization").map(HttpHeader::value).orElse(""));
      return handler.apply(request);
    };
  }

  /** Starts a server; close it in an after-hook. */
  public static FakeServer start() throws Exception {
    return new FakeServer(null);
  }

  /**
   * Starts a server speaking TLS with {@code context}, requiring a client certificate its trust
   * managers accept when {@code requireClientCertificates}.
   */
  public static FakeServer startWithTls(SSLContext context, boolean requireClientCertificates)
      throws Exception {
    return new FakeServer(ConnectionContext.httpsServer(() -> {
      SSLEngine engine = context.createSSLEngine();
      engine.setUseClientMode(false);
      engine.setNeedClientAuth(requireClientCertificates);
      return engine;
    }));
  }

  /** The port the server was given. */
  public int port() {
    return binding.localAddress().getPort();
  }

  /** {@code 127.0.0.1:PORT}, as {@code --server} takes it. */
  public String address() {
    return "127.0.0.1:" + port();
  }

  /** Unbinds and terminates the server's actor system, each within a time limit. */
  @Override
  public void close() throws ExecutionException, TimeoutException {
    try {
      await(binding.terminate(TIMEOUT));
    } finally {
      system.terminate();
      await(system.getWhenTerminated());
    }
  }

  private static void await(CompletionStage<?> stage) throws ExecutionException, TimeoutException {
    try {
      stage.toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
