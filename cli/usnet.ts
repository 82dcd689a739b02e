/**
 * The `usnet` command. One file per subcommand (cli/<name>.ts exporting
 * `register(program)`); this file only assembles them.
 */
import { Command } from 'commander';
import { register as registerDemo } from './demo.js';
import { register as registerDrill } from './drill.js';
import { register as registerSim } from './sim.js';

// `usnet drill ... | head` closes our stdout early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const program = new Command();
program
  .name('usnet')
  .description('usnet: a user-space TCP/IP stack whose TCP behaves like Linux')
  .showHelpAfterError();

registerDrill(program);
registerDemo(program);
registerSim(program);

await program.parseAsync(process.argv);
