import { execFileSync } from 'node:child_process';

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A Debian package's command, installed on first use when the tests run as root (CI does). */
export function ensureCommand(command: string, debianPackage: string): void {
  if (hasCommand(command)) return;
  if (process.getuid?.() !== 0) throw new Error(`${command} is missing: apt-get install ${debianPackage} (as root)`);
  try {
    execFileSync('apt-get', ['install', '-y', '-q', debianPackage], { stdio: 'ignore' });
  } catch {
    execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore' });
    execFileSync('apt-get', ['install', '-y', '-q', debianPackage], { stdio: 'ignore' });
  }
}
