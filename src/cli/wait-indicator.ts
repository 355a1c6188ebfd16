// A spinner with a countdown on stderr while the CLI waits for the browser ("⠋ Waiting for the browser… 4:59").
// Only on a terminal (never in pipes or logs), redrawn in place, and wiped when the wait ends.

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface WaitIndicator {
  stop(): void;
}

export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

export function startWaitIndicator(
  label: string,
  deadline: number,
  stream: NodeJS.WriteStream = process.stderr,
): WaitIndicator {
  if (!stream.isTTY) return { stop() {} };
  let frame = 0;
  const draw = () => {
    const left = formatCountdown(deadline - Date.now());
    stream.write(`\r\u001b[2K${FRAMES[frame++ % FRAMES.length]} ${label} ${left} left`);
  };
  draw();
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      stream.write('\r\u001b[2K');
    },
  };
}
