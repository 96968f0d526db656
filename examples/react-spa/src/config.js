// Where Gatehouse and the API are, set at build time (see README.md).
export const GATEHOUSE_URL = import.meta.env.VITE_GATEHOUSE_URL || 'http://localhost:8080'
export const API_URL = import.meta.env.VITE_API_URL || 'http://localhost:8000'
