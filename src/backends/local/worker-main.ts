import { parentPort, workerData } from 'node:worker_threads';
import { composeFace } from './compose.js';
import { Detector } from './detector.js';
import { swapFrame } from './frame-swap.js';
import type { WorkerConfig, WorkerReply, WorkerRequest } from './worker-protocol.js';

/**
 * Entry point of the engine's worker thread: loads the models once, then answers requests one at
 * a time. All tfjs work and all heavy pixel math happen here, so the host's event loop stays free
 * and an abort can simply terminate this thread.
 */
async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(reply, transfer);
  const started = performance.now();
  let detector: Detector;
  try {
    detector = await Detector.load((workerData as WorkerConfig | undefined)?.modelDir);
  } catch (error) {
    post({ type: 'load-failed', message: error instanceof Error ? error.message : String(error) });
    return;
  }
  post({ type: 'ready', millis: performance.now() - started });

  // Requests are handled strictly in order; the host never sends a second before the first's reply.
  port.on('message', (request: WorkerRequest) => {
    void handle(detector, request).then(
      ([reply, transfer]) => post(reply, transfer),
      (error: unknown) =>
        post({
          type: 'error',
          id: request.id,
          message: error instanceof Error ? error.message : String(error),
        }),
    );
  });
}

async function handle(detector: Detector, request: WorkerRequest): Promise<[WorkerReply, ArrayBuffer[]]> {
  switch (request.type) {
    case 'detect': {
      const { data, width, height } = request.image;
      const faces = await detector.detect(data, width, height);
      return [{ type: 'faces', id: request.id, faces }, faces.map((f) => f.points.buffer as ArrayBuffer)];
    }
    case 'compose': {
      const composed = composeFace({ ...request, triangles: detector.triangles });
      return [{ type: 'composed', id: request.id, ...composed }, [composed.rgba.buffer as ArrayBuffer]];
    }
    case 'swap-frame': {
      const { frame, points, faces } = await swapFrame(detector, request);
      return [{ type: 'frame', id: request.id, frame, points, faces }, [frame.data.buffer as ArrayBuffer]];
    }
  }
}

void main();
