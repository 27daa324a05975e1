// The Upstart extension: `.ups` files get the language server `upstartc lsp` (diagnostics as
// you type, hover, go to definition, completion, quick fixes, formatting). The binary is
// `upstart.serverPath` (default `upstartc`, looked up on PATH); changing it restarts the server.

import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from "vscode-languageclient/node";

let client: LanguageClient | undefined;

function serverPath(): string {
  const configured = vscode.workspace.getConfiguration("upstart").get<string>("serverPath");
  return configured && configured.trim() !== "" ? configured.trim() : "upstartc";
}

async function start(): Promise<void> {
  const command = serverPath();
  const executable = { command, args: ["lsp"], transport: TransportKind.stdio };
  const serverOptions: ServerOptions = { run: executable, debug: executable };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "ups" },
      { scheme: "untitled", language: "ups" },
    ],
  };
  client = new LanguageClient("upstart", "Upstart language server", serverOptions, clientOptions);
  try {
    await client.start();
  } catch (err) {
    client = undefined;
    const message = err instanceof Error ? err.message : String(err);
    void vscode.window.showErrorMessage(
      `Cannot start \`${command} lsp\`: ${message}. Set "upstart.serverPath" to the upstartc binary.`,
    );
  }
}

async function stop(): Promise<void> {
  const running = client;
  client = undefined;
  if (running) {
    await running.stop();
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("upstart.restartServer", async () => {
      await stop();
      await start();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("upstart.serverPath")) {
        await stop();
        await start();
      }
    }),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  await stop();
}
