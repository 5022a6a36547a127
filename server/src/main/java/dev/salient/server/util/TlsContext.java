package dev.salient.server.util;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Builds the server's {@link SSLContext} from PEM files with the JDK alone. A file that cannot be
 * used fails with an {@link IllegalArgumentException} naming its configuration key.
 */
public final class TlsContext {

  /** The configuration key of the certificate chain. */
  public static final String CERTIFICATE_KEY = "salient.tls.certificate";
  /** The configuration key of the private key. */
  public static final String PRIVATE_KEY_KEY = "salient.tls.private-key";
  /** The configuration key of the CA that client certificates must be signed by. */
  public static final String CLIENT_CA_KEY = "salient.tls.client-ca";

  private static final Pattern PRIVATE_KEY_PEM = Pattern.compile(
      "-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");
  // The algorithms a PKCS#8 key may be for; the key itself names it only as an OID.
  private static final List<String> KEY_ALGORITHMS = List.of("RSA", "EC", "Ed25519", "Ed448");

  private TlsContext() {}

  /**
   * An SSLContext that presents {@code certificate} (a PEM chain, leaf first) with {@code
   * privateKey} (PEM, PKCS#8), and trusts client certificates signed by {@code clientCa} when it
   * is not null.
   */
  public static SSLContext create(Path certificate, Path privateKey, Path clientCa) {
    List<X509Certificate> chain = certificates(certificate, CERTIFICATE_KEY);
    PrivateKey key = privateKey(privateKey);
    try {
      // The JDK would only notice a mismatch in the first handshake, as a failure for the client.
      if (!signsFor(key, chain.get(0))) {
        throw new GeneralSecurityException("the key is not the certificate's (the first in the "
            + "chain must be the server's own)");
      }
      KeyStore keys = KeyStore.getInstance("PKCS12");
      keys.load(null, null);
      keys.setKeyEntry("server", key, new char[0], chain.toArray(new Certificate[0]));
      KeyManagerFactory keyManagers =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      keyManagers.init(keys, new char[0]);
      TrustManagerFactory trustManagers = null;
      if (clientCa != null) {
        KeyStore trusted = KeyStore.getInstance("PKCS12");
        trusted.load(null, null);
        int i = 0;
        for (X509Certificate ca : certificates(clientCa, CLIENT_CA_KEY)) {
          trusted.setCertificateEntry("client-ca-" + i++, ca);
        }
        trustManagers = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trustManagers.init(trusted);
      }
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(keyManagers.getKeyManagers(),
          trustManagers == null ? null : trustManagers.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(CERTIFICATE_KEY + " (" + certificate + ") and "
          + PRIVATE_KEY_KEY + " (" + privateKey + ") cannot be used together: " + e.getMessage(),
          e);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static boolean signsFor(PrivateKey key, X509Certificate certificate)
      throws GeneralSecurityException {
    String algorithm = switch (key.getAlgorithm()) {
      case "RSA" -> "SHA256withRSA";
      case "EC" -> "SHA256withECDSA";
      default -> key.getAlgorithm();
    };
    byte[] probe = "salient".getBytes(StandardCharsets.US_ASCII);
    Signature signer = Signature.getInstance(algorithm);
    signer.initSign(key);
    signer.update(probe);
    byte[] signature = signer.sign();
    Signature verifier = Signature.getInstance(algorithm);
    try {
      verifier.initVerify(certificate.getPublicKey());
    } catch (InvalidKeyException e) {
      return false;
    }
    verifier.update(probe);
    return verifier.verify(signature);
  }

  private static List<X509Certificate> certificates(Path file, String configKey) {
    byte[] pem = read(file, configKey);
    try {
      List<X509Certificate> certificates = CertificateFactory.getInstance("X.509")
          .generateCertificates(new ByteArrayInputStream(pem)).stream()
          .map(c -> (X509Certificate) c).toList();
      if (certificates.isEmpty()) {
        throw new CertificateException("no certificate in it");
      }
      return certificates;
    } catch (CertificateException e) {
      throw new IllegalArgumentException(configKey + ": " + file
          + " is not a PEM certificate (-----BEGIN CERTIFICATE-----): " + e.getMessage(), e);
    }
  }

  private static PrivateKey privateKey(Path file) {
    String pem = new String(read(file, PRIVATE_KEY_KEY), StandardCharsets.US_ASCII);
    Matcher m = PRIVATE_KEY_PEM.matcher(pem);
    if (!m.find()) {
      String hint = pem.contains("-----BEGIN RSA PRIVATE KEY-----")
          || pem.contains("-----BEGIN EC PRIVATE KEY-----")
          ? "; convert it with openssl pkcs8 -topk8 -nocrypt -in OLD -out NEW"
          : pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") ? "; it must not be encrypted" : "";
      throw new IllegalArgumentException(PRIVATE_KEY_KEY + ": " + file
          + " is not an unencrypted PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----)" + hint);
    }
    PKCS8EncodedKeySpec spec;
    try {
      spec = new PKCS8EncodedKeySpec(Base64.getMimeDecoder().decode(m.group(1)));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(PRIVATE_KEY_KEY + ": " + file + " is not valid base64");
    }
    for (String algorithm : KEY_ALGORITHMS) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(spec);
      } catch (InvalidKeySpecException | java.security.NoSuchAlgorithmException e) {
        // try the next algorithm
      }
    }
    throw new IllegalArgumentException(PRIVATE_KEY_KEY + ": " + file
        + " holds no RSA, EC or EdDSA private key the JDK can read");
  }

  private static byte[] read(Path file, String configKey) {
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new IllegalArgumentException(configKey + ": cannot read " + file + " ("
          + e.getClass().getSimpleName() + ": " + e.getMessage() + ")", e);
    }
  }
}
