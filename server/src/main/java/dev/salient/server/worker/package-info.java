/** Admission, device workers and jobs: where requests are scheduled and their passes batched. */
package dev.salient.server.worker;
