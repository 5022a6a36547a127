/**
 * Salient as a Pekko Cluster: the membership of a node ({@link dev.salient.server.cluster.ClusterNode}),
 * the worker node that runs orders placed on it by any gateway ({@link
 * dev.salient.server.cluster.WorkerNode}), and the gateway that places each request on the
 * least-loaded worker node cluster-wide ({@link dev.salient.server.cluster.Gateway}). Sits between
 * the gRPC layer and the local supervisor: grpc -> cluster -> worker.
 */
package dev.salient.server.cluster;
