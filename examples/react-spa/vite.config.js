import { defineConfig, searchForWorkspaceRoot } from 'vite'

export default defineConfig({
  // Vite's own esbuild compiles JSX; @vitejs/plugin-react would add only
  // fast refresh in the dev server, for some fifty more packages.
  esbuild: { jsx: 'automatic' },
  build: {
    rollupOptions: {
      // react-router marks its modules "use client", which means nothing
      // to an app without server components.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning)
      },
    },
  },
  server: {
    // 5173 is the origin Gatehouse is told about (GATEHOUSE_APP_URL): fail
    // rather than move to another port that it would refuse.
    port: 5173,
    strictPort: true,
    // @gatehouse/client is linked from ../../client, outside this folder.
    fs: { allow: [searchForWorkspaceRoot(process.cwd()), '../../client'] },
  },
})
