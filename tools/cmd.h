/* cmd.h: the subcommands of `moee`. Each takes (argc, argv) with argv[0] = its
 * own name, and returns the process exit status (0 ok, 1 error). */
#ifndef MOEE_CMD_H
#define MOEE_CMD_H
int cmd_embed(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_serve(int argc, char **argv);
#endif
