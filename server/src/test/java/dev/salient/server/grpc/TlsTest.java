package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ClassifyResponse;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.MethodRegistry;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.io.File;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import javax.net.ssl.SSLException;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * salient.tls end to end: a real server on loopback with the committed fixtures
 * (src/test/resources/tls, made by make_certificates.sh) and the generated client over TLS.
 */
class TlsTest {
  private ActorSystem<Void> serverSystem;
  private ActorSystem<Void> clientSystem;
  private SalientServer server;
  private ExplainerClient client;

  static String fixture(String name) {
    try {
      return Path.of(TlsTest.class.getResource("/tls/" + name).toURI()).toString();
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  private void startServer(boolean requireClientCertificates) {
    Config config = ConfigFactory.parseString("salient.port = 0\n"
            + "salient.cpu-workers = 1\n"
            + "salient.scheduler.measure-best-batch = false\n"
            + "salient.tls.certificate = \"" + fixture("server.pem") + "\"\n"
            + "salient.tls.private-key = \"" + fixture("server.key") + "\"\n"
            + "salient.tls.client-ca = \""
            + (requireClientCertificates ? fixture("ca.pem") : "") + "\"\n")
        .withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "tls", config);
    server = SalientServer.start(serverSystem, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
  }

  /** Connects over TLS; {@code ssl} (trust, client certificate) null: the JVM's defaults. */
  private void connect(SslContext ssl) {
    clientSystem = ActorSystem.create(Behaviors.empty(), "tls-client");
    GrpcClientSettings settings = GrpcClientSettings
        .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
        .withTls(true)
        .withConnectionAttempts(1);
    if (ssl != null) {
      settings = settings.withChannelBuilderOverrides(b -> b.sslContext(ssl));
    }
    client = ExplainerClient.create(settings, clientSystem);
  }

  private static SslContext trusting(String ca, UnaryOperator<SslContextBuilder> more) {
    try {
      return more.apply(GrpcSslContexts.forClient().trustManager(new File(fixture(ca)))).build();
    } catch (SSLException e) {
      throw new IllegalStateException(e);
    }
  }

  private Status classifyStatus() {
    try {
      ClassifyResponse answer = client.classify(ClassifyRequest.newBuilder()
              .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
              .build())
          .toCompletableFuture().get(60, TimeUnit.SECONDS);
      assertTrue(answer.getTopCount() > 0);
      return Status.OK;
    } catch (Exception e) {
      return Status.fromThrowable(e);
    }
  }

  @AfterEach
  void stop() {
    if (client != null) {
      // A refused client's close fails with the connection failure it already reported.
      client.close().exceptionally(e -> Done.getInstance()).toCompletableFuture()
          .orTimeout(5, TimeUnit.SECONDS).join();
    }
    if (clientSystem != null) {
      clientSystem.terminate();
    }
    if (server != null) {
      server.close();
    }
    if (serverSystem != null) {
      serverSystem.terminate();
      serverSystem.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS)
          .join();
    }
  }

  @Test
  void aClientThatTrustsTheCaClassifiesOverTls() {
    startServer(false);
    connect(trusting("ca.pem", b -> b));

    assertEquals(Status.Code.OK, classifyStatus().getCode());
  }

  @Test
  void aClientThatDoesNotTrustTheCaIsUnavailable() {
    startServer(false);
    connect(null);

    Status refused = classifyStatus();

    assertEquals(Status.Code.UNAVAILABLE, refused.getCode(), refused.toString());
  }

  @Test
  void withAClientCaAClientPresentingItsCertificateClassifies() {
    startServer(true);
    connect(trusting("ca.pem",
        b -> b.keyManager(new File(fixture("client.pem")), new File(fixture("client.key")))));

    assertEquals(Status.Code.OK, classifyStatus().getCode());
  }

  @Test
  void withAClientCaAClientWithoutACertificateIsRefused() {
    startServer(true);
    connect(trusting("ca.pem", b -> b));

    Status refused = classifyStatus();

    assertEquals(Status.Code.UNAVAILABLE, refused.getCode(), refused.toString());
  }
}
