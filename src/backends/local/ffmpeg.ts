import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/**
 * The engine's only door to `ffmpeg` and `ffprobe`, which are optional: taken from PATH, never
 * bundled (the npm packages that bundle them download binaries at install, which fails offline).
 * Frames travel as raw packed RGB over pipes, so nothing but the output touches the disk.
 */

/** Whether both programs run. Checked once per process. */
let available: Promise<boolean> | undefined;

export function ffmpegAvailable(): Promise<boolean> {
  available ??= Promise.all([runs('ffmpeg'), runs('ffprobe')]).then(([a, b]) => a && b);
  return available;
}

async function runs(program: string): Promise<boolean> {
  try {
    const child = spawn(program, ['-version'], { stdio: 'ignore' });
    const [code] = (await once(child, 'exit')) as [number | null];
    return code === 0;
  } catch {
    return false;
  }
}

/** What ffprobe says about a video's first video stream, with rotation applied to the size. */
export type VideoProbe =
  | {
      readonly kind: 'ok';
      readonly width: number;
      readonly height: number;
      /** Average frame rate as ffmpeg's rational, e.g. `30000/1001`. */
      readonly frameRate: string;
      /** Frame count from the container, when it says. */
      readonly frames: number | undefined;
      readonly hasAudio: boolean;
    }
  | { readonly kind: 'unreadable'; readonly detail: string };

interface ProbeJson {
  streams?: {
    codec_type?: string;
    width?: number;
    height?: number;
    avg_frame_rate?: string;
    r_frame_rate?: string;
    nb_frames?: string;
    tags?: { rotate?: string };
    side_data_list?: { rotation?: number }[];
  }[];
}

export async function probeVideo(path: string): Promise<VideoProbe> {
  const args = ['-v', 'error', '-print_format', 'json', '-show_streams', path];
  const { code, stdout, stderr } = await collect(
    spawn('ffprobe', args, { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  if (code !== 0)
    return { kind: 'unreadable', detail: firstLine(stderr) || `ffprobe exited with code ${code}` };
  let json: ProbeJson;
  try {
    json = JSON.parse(stdout) as ProbeJson;
  } catch {
    return { kind: 'unreadable', detail: 'ffprobe gave no stream information' };
  }
  const streams = json.streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video');
  if (video?.width === undefined || video.height === undefined) {
    return { kind: 'unreadable', detail: 'it has no video stream' };
  }
  const rotation = Number(
    video.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? video.tags?.rotate ?? 0,
  );
  const turned = Math.abs(rotation) % 180 === 90;
  const rate = [video.avg_frame_rate, video.r_frame_rate].find(
    (r) => r !== undefined && /^[1-9]\d*\/[1-9]\d*$/.test(r),
  );
  const frames = Number(video.nb_frames);
  return {
    kind: 'ok',
    width: turned ? video.height : video.width,
    height: turned ? video.width : video.height,
    frameRate: rate ?? '25/1',
    frames: Number.isFinite(frames) && frames > 0 ? frames : undefined,
    hasAudio: streams.some((s) => s.codec_type === 'audio'),
  };
}

/**
 * Decodes the first video stream to raw RGB frames of `width` × `height`, upright (ffmpeg
 * applies the rotation tag itself), one frame per decoded frame (no duplication or dropping).
 */
export async function* decodeFrames(path: string, width: number, height: number): AsyncGenerator<Uint8Array> {
  const args = [
    '-v',
    'error',
    '-i',
    path,
    '-map',
    '0:v:0',
    '-fps_mode',
    'passthrough',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const closed = closedWith(child);
  const errors = collectText(child);
  const size = width * height * 3;
  let pending = new Uint8Array(0);
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      const joined = new Uint8Array(pending.length + chunk.length);
      joined.set(pending);
      joined.set(chunk, pending.length);
      let at = 0;
      while (joined.length - at >= size) {
        yield joined.slice(at, at + size);
        at += size;
      }
      pending = joined.slice(at);
    }
    const code = await closed;
    if (code !== 0) throw new Error(firstLine(await errors) || `ffmpeg exited with code ${code}`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** An H.264 encoder fed raw RGB frames; audio, if any, is copied over from `audioFrom`. */
export interface Encoder {
  write(frame: Uint8Array): Promise<void>;
  /** Closes the input and waits for the file; rejects with ffmpeg's first error line. */
  finish(): Promise<void>;
  /** Stops ffmpeg and waits until it has exited (so it cannot create the file after a cleanup). */
  kill(): Promise<void>;
}

export function openEncoder(
  outputPath: string,
  width: number,
  height: number,
  frameRate: string,
  audioFrom: string | undefined,
): Encoder {
  const args = ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`];
  args.push('-framerate', frameRate, '-i', 'pipe:0');
  if (audioFrom !== undefined)
    args.push('-i', audioFrom, '-map', '0:v:0', '-map', '1:a?', '-c:a', 'aac', '-b:a', '160k');
  // yuv420p (what every player expects) needs even sides: pad odd ones by one pixel.
  args.push('-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18');
  args.push('-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-shortest', '-f', 'mp4', outputPath);
  const child = spawn('ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
  const errors = collectText(child);
  const exited = closedWith(child);
  // A dead encoder surfaces through finish(); until then, a broken pipe must not crash the host.
  child.stdin?.on('error', () => undefined);
  return {
    async write(frame) {
      const stdin = child.stdin;
      if (stdin === null || stdin.destroyed)
        throw new Error(firstLine(await errors) || 'the encoder stopped');
      if (!stdin.write(frame)) await Promise.race([once(stdin, 'drain'), exited]);
    },
    async finish() {
      child.stdin?.end();
      const code = await exited;
      if (code !== 0) throw new Error(firstLine(await errors) || `ffmpeg exited with code ${code}`);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

async function collect(
  child: ChildProcess,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const stderr = collectText(child);
  const code = await closedWith(child);
  return { code, stdout, stderr: await stderr };
}

/** The exit code once the process and its pipes are closed; -1 if it could not be started. */
function closedWith(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('close', (code: number | null) => resolve(code));
  });
}

function collectText(child: ChildProcess): Promise<string> {
  let text = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (text.length < 10_000) text += chunk.toString();
  });
  return new Promise((resolve) => child.on('close', () => resolve(text)));
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}
