using NfcPipeline.Cli;

return await NfcCommandLine.RunAsync(args);
