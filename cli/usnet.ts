/**
 * The `usnet` command. One file per subcommand (cli/<name>.ts exporting
 * `register(program)`); this file only assembles them.
 */
import { Command } from 'commander';
import { register as registerDrill } from './drill.js';

const program = new Command();
program
  .name('usnet')
  .description('usnet: a user-space TCP/IP stack whose TCP behaves like Linux')
  .showHelpAfterError();

registerDrill(program);

await program.parseAsync(process.argv);
