// Piscina task (auth.ts): one bcrypt comparison, off the event loop. bcryptjs is JavaScript: at
// cost 10 a check is 50-100 ms of CPU, which its async API still runs in slices of up to 100 ms on
// the calling thread, holding up every request meanwhile.
import bcrypt from 'bcryptjs';

export default function compare(task: { password: string; hash: string }): boolean {
  return bcrypt.compareSync(task.password, task.hash);
}
