using MlLora.Cli.Commands;

return CliApp.Run(args);
