package dev.salient.server.engine;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtSymbolBlock;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A TorchScript model exported in two parts at its feature layer, so that Grad-CAM can read the
 * feature maps: {@value #FEATURES_FILE} maps the normalised input to feature maps (N, K, h, w) and
 * {@value #HEAD_FILE} maps those to logits. Every pass runs {@code head(features(x))}; the
 * package's {@code weights} file is not read. docs/models.md shows the export.
 */
final class TorchScriptTwoPartModel implements LoadedModel {
  /** The feature part's file in the package directory. */
  static final String FEATURES_FILE = "features.pt";

  /** The head's file in the package directory. */
  static final String HEAD_FILE = "head.pt";

  private final ModelPackage modelPackage;
  private final Model featuresModel;
  private final Model headModel;
  private final PtSymbolBlock featuresBlock;
  private final PtSymbolBlock headBlock;
  /** Walks the layers {@code model.json} declares; null when it declares none. */
  private LayerWalker walker;

  private TorchScriptTwoPartModel(ModelPackage modelPackage, Model featuresModel,
      Model headModel) {
    this.modelPackage = modelPackage;
    this.featuresModel = featuresModel;
    this.headModel = headModel;
    this.featuresBlock = (PtSymbolBlock) featuresModel.getBlock();
    this.headBlock = (PtSymbolBlock) headModel.getBlock();
  }

  /** Loads both parts of a package directory onto {@code device}, each in eval mode. */
  static TorchScriptTwoPartModel load(ModelPackage pkg, Device device) {
    Model features = TorchScriptModel.open(pkg, FEATURES_FILE, device);
    Model head;
    try {
      head = TorchScriptModel.open(pkg, HEAD_FILE, device);
    } catch (RuntimeException e) {
      features.close();
      throw e;
    }
    try {
      InputSpec in = pkg.input();
      // Each part runs once with training=false (eval mode for good); the feature part's output
      // is the head's probe, and its shape must be spatial maps for Grad-CAM.
      try (NDArray probe =
          features.getNDManager().zeros(new Shape(1, in.channels(), in.height(), in.width()))) {
        NDArray maps = TorchScriptModel.evalMode(features, probe);
        if (maps.getShape().dimension() != 4) {
          throw new IllegalArgumentException(FEATURES_FILE + " outputs " + maps.getShape()
              + "; the feature part must output spatial maps (N, K, h, w)");
        }
        TorchScriptModel.evalMode(head, maps).close();
        maps.close();
      }
    } catch (RuntimeException e) {
      features.close();
      head.close();
      throw new IllegalArgumentException("model " + pkg.name() + ": cannot run the two-part "
          + "TorchScript export " + FEATURES_FILE + " + " + HEAD_FILE + ": " + e.getMessage(), e);
    }
    TorchScriptTwoPartModel model = new TorchScriptTwoPartModel(pkg, features, head);
    if (pkg.layers() != null) {
      try {
        // Parameters are named by part: "features.0.weight" is features.pt's "0.weight".
        Map<String, NDArray> parameters = new LinkedHashMap<>();
        DeclaredLayers.addParameters(parameters, model.featuresBlock, partName(FEATURES_FILE));
        DeclaredLayers.addParameters(parameters, model.headBlock, partName(HEAD_FILE));
        model.walker = DeclaredLayers.walker(pkg, parameters, features.getNDManager(),
            x -> model.forward(x, false));
      } catch (RuntimeException e) {
        model.close();
        throw e;
      }
    }
    return model;
  }

  private static String partName(String file) {
    return file.substring(0, file.length() - ".pt".length()) + ".";
  }

  @Override
  public LayerWalker walker() {
    return walker;
  }

  @Override
  public ModelPackage modelPackage() {
    return modelPackage;
  }

  @Override
  public NDArray forward(NDArray normalisedInput, boolean recordGradient) {
    return head(features(normalisedInput, recordGradient), recordGradient);
  }

  @Override
  public boolean hasFeatureLayer() {
    return true;
  }

  @Override
  public NDArray features(NDArray normalisedInput, boolean recordGradient) {
    return TorchScriptModel.call(featuresBlock, normalisedInput, recordGradient);
  }

  @Override
  public NDArray head(NDArray features, boolean recordGradient) {
    return TorchScriptModel.call(headBlock, features, recordGradient);
  }

  @Override
  public void close() {
    featuresModel.close();
    headModel.close();
  }
}
