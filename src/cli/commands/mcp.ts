// `authsome mcp`: a Model Context Protocol server on stdin/stdout for agents (Claude Code, Cursor, any MCP client).
// stdout is the protocol channel: nothing else may be written there; progress and warnings go to stderr.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { defineCommand } from 'citty';
import { connectApi } from '../../client/api-client.js';
import { loadPackageVersion } from '../../paths.js';
import { isBrowserAvailable } from '../key-source.js';
import { callMcpTool, MCP_TOOLS } from '../mcp-tools.js';
import { openBrowser } from '../open-browser.js';

export default defineCommand({
  meta: {
    name: 'mcp',
    description:
      'Serve the Model Context Protocol on stdio: agents list providers and ask for a login, never see a key.',
  },
  args: {},
  async run() {
    const api = await connectApi({
      onProgress: (m) => process.stderr.write(`${m}\n`),
      onWarning: (m) => process.stderr.write(`Warning: ${m}\n`),
    });
    const server = new Server({ name: 'authsome', version: loadPackageVersion() }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: MCP_TOOLS }));
    server.setRequestHandler(CallToolRequestSchema, async (req) => {
      const reply = await callMcpTool(
        {
          api,
          browserAvailable: () => isBrowserAvailable(process.env, process.platform),
          openForPerson: async (url) => (await openBrowser(url)).failure,
        },
        req.params.name,
        req.params.arguments ?? {},
      );
      return { content: [{ type: 'text' as const, text: reply.text }], ...(reply.isError ? { isError: true } : {}) };
    });
    const closed = new Promise<void>((resolve) => (server.onclose = resolve));
    await server.connect(new StdioServerTransport());
    // Serve until the client closes stdin.
    await closed;
  },
});
