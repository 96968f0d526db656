import { defineConfig, searchForWorkspaceRoot } from 'vite'
import react from '@vitejs/plugin-react'

export default defineConfig({
  plugins: [react()],
  server: {
    // 5173 is the origin Gatehouse is told about (GATEHOUSE_APP_URL): fail
    // rather than move to another port that it would refuse.
    port: 5173,
    strictPort: true,
    // @gatehouse/client is linked from ../../client, outside this folder.
    fs: { allow: [searchForWorkspaceRoot(process.cwd()), '../../client'] },
  },
})
