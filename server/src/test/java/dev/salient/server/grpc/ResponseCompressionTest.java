package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.method.MethodRegistry;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall.SimpleForwardingClientCall;
import io.grpc.ForwardingClientCallListener.SimpleForwardingClientCallListener;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;

/**
 * Responses are sent uncompressed unless {@code salient.compress-responses} is on, although
 * grpc-java (like most clients) offers gzip on every call.
 */
class ResponseCompressionTest {
  private static final Metadata.Key<String> ENCODING =
      Metadata.Key.of("grpc-encoding", Metadata.ASCII_STRING_MARSHALLER);

  @Test
  void responsesAreUncompressedByDefaultThoughTheClientAcceptsGzip() throws Exception {
    assertEquals("identity", responseEncoding(""));
  }

  @Test
  void responsesAreGzippedForClientsThatAcceptItWhenCompressionIsOn() throws Exception {
    assertEquals("gzip", responseEncoding("salient.compress-responses = true"));
  }

  /** The grpc-encoding of a health check's response from a server started with {@code conf}. */
  private static String responseEncoding(String conf) throws Exception {
    Config config = ConfigFactory.parseString("salient.port = 0\n" + conf)
        .withFallback(ConfigFactory.load());
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "compression", config);
    ManagedChannel channel = null;
    try (SalientServer server = SalientServer.start(system, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard())) {
      channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.address().getPort())
          .usePlaintext().build();
      AtomicReference<String> encoding = new AtomicReference<>();
      Channel recording = ClientInterceptors.intercept(channel, new ClientInterceptor() {
        @Override
        public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method,
            CallOptions options, Channel next) {
          return new SimpleForwardingClientCall<>(next.newCall(method, options)) {
            @Override
            public void start(Listener<R> listener, Metadata headers) {
              super.start(new SimpleForwardingClientCallListener<>(listener) {
                @Override
                public void onHeaders(Metadata responseHeaders) {
                  encoding.set(responseHeaders.get(ENCODING));
                  super.onHeaders(responseHeaders);
                }
              }, headers);
            }
          };
        }
      });
      HealthCheckResponse answer = HealthGrpc.newBlockingStub(recording)
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .check(HealthCheckRequest.newBuilder().build());
      assertEquals(HealthCheckResponse.ServingStatus.SERVING, answer.getStatus());
      return encoding.get();
    } finally {
      if (channel != null) {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }
}
